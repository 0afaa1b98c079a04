"""``check_policy_files`` and ``split_statements``: problems located by file and line."""

from __future__ import annotations

import pytest

from steward.policy import PolicyProblem, PolicySource, check_policy_files
from steward.policy.engine import load_pack, split_statements

VALID = '@id("reads")\npermit (principal, action == Action::"object.read", resource);\n'

# Lines 1-3 comments, 4-5 a valid policy, 6 blank, the bad policy starts on line 7.
HEAD = """\
// Our organisation's policies.
// Reviewed by the risk office.

@id("reads")
permit (principal, action == Action::"object.read", resource);

"""


def _check(text: str, name: str = "org.cedar") -> list[PolicyProblem]:
    return check_policy_files([PolicySource(name, text)])


def test_default_pack_checks_clean() -> None:
    pack = load_pack()
    assert {s.name for s in pack} >= {
        "pack/residency.cedar",
        "pack/four_eyes.cedar",
        "pack/holdouts.cedar",
        "pack/roles.cedar",
        "pack/teams.cedar",
    }
    assert check_policy_files(pack) == []


def test_valid_user_file_checks_clean() -> None:
    assert check_policy_files([*load_pack(), PolicySource("org.cedar", HEAD)]) == []


def test_syntax_error_names_file_and_line() -> None:
    text = HEAD + '@id("bad") forbid (principal, action, resource) when { 1 + };\n'
    assert text.splitlines()[6].startswith('@id("bad")')
    (problem,) = _check(text)
    assert problem.file == "org.cedar"
    assert problem.line == 7
    assert "unexpected token" in problem.message
    assert str(problem).startswith("org.cedar:7: ")
    assert problem.to_dict() == {"file": "org.cedar", "line": 7, "message": problem.message}


def test_syntax_error_line_points_into_a_multi_line_policy() -> None:
    text = HEAD + (
        '@id("bad")\n'  # 7
        'forbid (principal, action == Action::"object.put", resource)\n'  # 8
        'when { context.site.trust == "private" && };\n'  # 9: the missing operand
    )
    (problem,) = _check(text)
    assert problem.file == "org.cedar"
    assert problem.line == 9
    assert "`}`" in problem.message


def test_missing_parenthesis_is_reported_at_its_policy() -> None:
    text = HEAD + '@id("bad") forbid (principal, action, resource;\n'
    (problem,) = _check(text)
    assert problem.line == 7
    assert "`;`" in problem.message  # Cedar's own words, naming the token


def test_only_the_bad_policy_is_reported() -> None:
    text = (
        HEAD
        + '@id("bad") permit (principal, action, resource) when { ;\n'
        + VALID.replace("reads", "reads-2")
    )
    problems = _check(text)
    assert [p.line for p in problems] == [7]


def test_unknown_attribute_does_not_fit_the_schema() -> None:
    text = HEAD + (
        '@id("colour")\n'  # 7
        'forbid (principal, action == Action::"object.put", resource)\n'
        'when { resource.colour == "red" };\n'
    )
    (problem,) = _check(text)
    assert problem.line == 7
    assert "does not fit the schema" in problem.message
    assert "colour" in problem.message


def test_unknown_action_does_not_fit_the_schema() -> None:
    text = HEAD + '@id("fly") forbid (principal, action == Action::"object.fly", resource);\n'
    problems = _check(text)
    assert problems
    assert {p.line for p in problems} == {7}
    assert all(p.file == "org.cedar" for p in problems)
    assert any("object.fly" in p.message for p in problems)


def test_policy_without_id_is_reported() -> None:
    text = HEAD + 'forbid (principal, action == Action::"object.put", resource);\n'
    (problem,) = _check(text)
    assert problem.line == 7
    assert "@id" in problem.message


def test_duplicate_id_within_a_file() -> None:
    text = HEAD + VALID
    (problem,) = _check(text)
    assert problem.line == 7
    assert "reads" in problem.message
    assert "org.cedar" in problem.message


def test_id_that_duplicates_the_pack_names_the_pack_file() -> None:
    text = HEAD + VALID.replace("reads", "four-eyes")
    (problem,) = check_policy_files([*load_pack(), PolicySource("org.cedar", text)])
    assert problem.file == "org.cedar"
    assert problem.line == 7
    assert "four-eyes" in problem.message
    assert "pack/four_eyes.cedar" in problem.message


def test_problems_in_several_files_are_all_reported() -> None:
    problems = check_policy_files(
        [
            PolicySource("a.cedar", "forbid (principal, action, resource) when { 1 + };\n"),
            PolicySource("b.cedar", "// nothing but\n" + "permit (principal, action, resource);\n"),
        ]
    )
    assert [(p.file, p.line) for p in problems] == [("a.cedar", 1), ("b.cedar", 2)]


def test_empty_and_comment_only_files_are_fine() -> None:
    assert _check("") == []
    assert _check("// just a comment; with a semicolon\n\n") == []


# -- split_statements ----------------------------------------------------------------


def test_split_statements_gives_each_start_line() -> None:
    text = HEAD + '@id("two")\nforbid (principal, action, resource)\nwhen { true };\n'
    stmts = split_statements(text)
    assert [line for line, _ in stmts] == [4, 7]
    assert stmts[0][1] == VALID.rstrip("\n")
    assert stmts[1][1].startswith('@id("two")')
    assert stmts[1][1].endswith("when { true };")


def test_split_statements_ignores_semicolons_in_strings_and_comments() -> None:
    text = (
        "// a comment; not the end\n"
        '@id("a;b")\n'
        '@advice("say \\"hi\\"; then stop")\n'
        'forbid (principal, action, resource) when { "x;y" == "x;y" };\n'
        "permit (principal, action, resource); // trailing; comment\n"
    )
    stmts = split_statements(text)
    assert [line for line, _ in stmts] == [2, 5]
    assert stmts[0][1].endswith('when { "x;y" == "x;y" };')
    assert stmts[1][1] == "permit (principal, action, resource);"


def test_split_statements_keeps_an_unterminated_tail() -> None:
    text = VALID + "\n// note\nforbid (principal, action, resource)\n"
    stmts = split_statements(text)
    assert [line for line, _ in stmts] == [1, 5]
    assert stmts[1][1].startswith("forbid")


@pytest.mark.parametrize("text", ["", "   \n\n", "// only comments\n// here\n"])
def test_split_statements_of_nothing(text: str) -> None:
    assert split_statements(text) == []


def test_unterminated_policy_is_reported_at_its_line() -> None:
    text = HEAD + '@id("open")\nforbid (principal, action, resource)\n'
    (problem,) = _check(text)
    assert problem.line == 7
    assert "end of input" in problem.message
