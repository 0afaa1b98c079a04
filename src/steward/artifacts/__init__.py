"""Artifacts: content-addressed, encrypted objects under one root per site.

``sites/<site>/objects/ab/cdef...`` holds each object by the sha256 of its plaintext,
written atomically and encrypted with AES-GCM under the site's data key, which the
master key wraps (envelope encryption). Reads verify the hash; nothing is unpickled.
"""

from steward.artifacts.store import ArtifactStore, ObjectRef, sha256_file

__all__ = ["ArtifactStore", "ObjectRef", "sha256_file"]
