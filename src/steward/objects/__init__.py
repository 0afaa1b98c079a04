"""Objects: files put in a site's artifact root under residency policy.

The smallest governed data action: ``object.put`` stores bytes at a site (the policy
compares the data's jurisdiction with the site's), ``object.read`` returns them
verified. Datasets and models build on the same artifact store.
"""

from steward.objects.service import ObjectInfo, ObjectService

__all__ = ["ObjectInfo", "ObjectService"]
