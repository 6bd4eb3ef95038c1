"""`socialwatch coverage`: our lexicon against research lexicons, on a small reference directory
written here in the real files' formats (the real files are read by one optional test)."""

import pytest
from socialwatch.classifier import coverage

from socialwatch.cli import main

NONSENSE = "purple giraffe"  # no lexicon phrase: never flagged


def write_reference(root):
    youth = root / "youth_suicide_lexicon_MIT"
    youth.mkdir(parents=True)
    # one column per construct; the BOM is the real file's
    (youth / "Swaminathan_2023_lexicon.csv").write_text(
        "\ufeffSuicidal Thoughts,Sleep\n"
        "Kill myself,insomnia\n"
        f"{NONSENSE},\n"
        "kill MYSELF,\n", encoding="utf-8")
    (youth / "custom_auerbach_suicide_tokens_05.05.2025.csv").write_text(
        "\ufefftoken,source,add_date,word_start,word_end\n"
        "i want to die,auerbach,4/12/25,1,1\n"
        f"{NONSENSE},auerbach,4/12/25,,\n"
        "hang myself,reddit,4/12/25,,\n", encoding="utf-8")
    (youth / "custom_lexicon_pairs_05.05.2025.csv").write_text(
        "\ufefftokens,pairs,freestanding_token,freestanding_pair\n"
        "purple|green,giraffe|zebra,FALSE,FALSE\n"
        "kill,myself,FALSE,FALSE\n", encoding="utf-8")
    (youth / "celebrity_suicide_name.txt").write_text("token\nSome Name\n", encoding="utf-8")
    risk = root / "suicide_risk_lexicon_Apache2"
    risk.mkdir()
    (risk / "suicide_risk_lexicon_validated_24-08-02T21-27-35.csv").write_text(
        ",Passive suicidal ideation,Passive suicidal ideation_include,Passive suicidal ideation_add,"
        "Sleep issues,Sleep issues_include,Sleep issues_add\n"
        "Prompt name,passive suicidal ideation,,,sleep issues,,\n"
        "Definition,\"Thoughts desiring one's own death, or related states.\",,,Trouble sleeping,,\n"
        "Reference,\"Someone, S. (2023).\",,,Ours,,\n"
        "Examples,kill myself; I want to die,,,insomnia,,\n"  # metadata: never counted
        "0,I want to die,,,insomnia,,\n"
        f"1,{NONSENSE},,,,,\n", encoding="utf-8")
    (risk / "suicide_risk_constructs_and_definitions_clean.csv").write_text(
        ",Construct,Definition,Source,Examples,Construct clean\n0,Guilt,guilt,x,guilt,Guilt\n", encoding="utf-8")


def by_name(results):
    return {(r.file.split("/")[-1].split("_")[0], r.construct.name): r for r in results}


def test_coverage_counts_what_the_classifier_flags_and_lists_what_it_does_not(tmp_path, packaged):
    write_reference(tmp_path)
    results, skipped = coverage.measure(packaged, tmp_path)
    found = by_name(results)

    thoughts = found["Swaminathan", "Suicidal Thoughts"]
    assert (thoughts.construct.role, thoughts.terms, thoughts.flagged) == ("signal", 2, 1)  # "kill MYSELF" is a repeat
    assert thoughts.as_expected == 1
    assert thoughts.uncovered == [(NONSENSE, False)]
    assert found["Swaminathan", "Sleep"].construct.role == "risk factor"

    assert (found["custom", "source auerbach"].terms, found["custom", "source auerbach"].flagged) == (2, 1)
    assert [label for label, _ in found["custom", "source auerbach"].uncovered] == [NONSENSE]
    assert found["custom", "source reddit"].flagged == 1

    nonsense_pairs = found["custom", "purple|… + giraffe|…"]
    assert (nonsense_pairs.terms, nonsense_pairs.flagged) == (4, 0)
    assert [label for label, _ in nonsense_pairs.uncovered] == [
        "purple + giraffe", "purple + zebra", "green + giraffe", "green + zebra"]
    assert (found["custom", "kill + myself"].terms, found["custom", "kill + myself"].flagged) == (1, 1)

    passive = found["suicide", "Passive suicidal ideation"]
    assert (passive.terms, passive.flagged, passive.as_expected) == (2, 1, 1)  # metadata rows not read
    assert passive.construct.expected == frozenset({"ideation"})
    assert [r.construct.name for r in results if r.file.endswith("T21-27-35.csv")] == [
        "Passive suicidal ideation", "Sleep issues"]

    assert sorted(name.split("/")[-1] for name, _ in skipped) == [
        "celebrity_suicide_name.txt", "suicide_risk_constructs_and_definitions_clean.csv"]
    assert "not a self-harm signal alone" in dict(skipped)["youth_suicide_lexicon_MIT/celebrity_suicide_name.txt"]


def test_a_term_matched_below_the_threshold_is_told_apart(tmp_path, packaged):
    """A help-seeking phrase weighs less than the threshold by design: matched, not flagged."""
    weight = next(e.weight for e in packaged.lexicon.entries if e.phrase == "i need help")
    assert 0 < weight < 1
    root = tmp_path / "ref"
    root.mkdir()
    (root / "Swaminathan_2023_lexicon.csv").write_text(f"Help-Seeking\nI need help\n{NONSENSE}\n")
    [result], _ = coverage.measure(packaged, root)
    assert (result.flagged, result.below_threshold) == (0, 1)
    assert result.uncovered == [("I need help", True), (NONSENSE, False)]


@pytest.mark.parametrize(("term", "texts"), [
    ("Suicidal", ("suicidal", "i suicidal", "i'm suicidal")),
    ("I want to die", ("i want to die",)),  # already first person
    ("my  wrist", ("my wrist",)),
])
def test_carriers_add_a_first_person_only_when_the_term_has_none(term, texts):
    assert coverage._texts(term, "first_person") == texts


def test_a_missing_reference_directory_is_a_clear_error(tmp_path, packaged, capsys):
    with pytest.raises(coverage.CoverageError, match="reference lexicon directory not found"):
        coverage.measure(packaged, tmp_path / "absent")
    assert main(["coverage", "--reference", str(tmp_path / "absent")]) == 1
    assert "reference lexicon directory not found" in capsys.readouterr().err


def test_a_directory_without_reference_files_is_a_clear_error(tmp_path, packaged):
    with pytest.raises(coverage.CoverageError, match="no reference lexicon found"):
        coverage.measure(packaged, tmp_path)


def test_the_cli_prints_the_table_then_the_uncovered_terms(tmp_path, capsys):
    write_reference(tmp_path)
    assert main(["coverage", "--reference", str(tmp_path), "--uncovered", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("lexicon ")
    row = next(line for line in out.splitlines()
               if line.startswith("| youth_suicide_lexicon_MIT/Swaminathan_2023_lexicon.csv | Suicidal Thoughts "))
    assert row.split(" | ")[2:8] == ["signal", "active_planning, ideation", "2", "1", "50.0%", "1"]
    assert "skipped youth_suicide_lexicon_MIT/celebrity_suicide_name.txt" in out
    uncovered = out.split("# Terms of signal constructs not flagged")[1]
    assert f"- {NONSENSE}" in uncovered
    assert "- purple + giraffe" in uncovered and "purple + zebra" not in uncovered  # --uncovered 1
    assert "- … 3 more" in uncovered
    assert "insomnia" not in uncovered  # risk factors are not listed


@pytest.mark.skipif(not coverage.DEFAULT_REFERENCE_DIR.is_dir(), reason="../shared research lexicons absent")
def test_the_real_reference_lexicons_are_read(packaged):
    results, skipped = coverage.measure(packaged)
    files = {r.file.split("/")[-1].split("_")[0] for r in results}
    assert files >= {"Swaminathan", "custom", "suicide"}
    names = {r.construct.name for r in results}
    assert {"Suicidal Thoughts", "Passive suicidal ideation", "Suicide exposure"} <= names
    assert all(0 <= r.flagged <= r.terms and r.terms > 0 for r in results)
    assert any(name.endswith("celebrity_suicide_name.txt") for name, _ in skipped)
