"""`socialwatch classify` (JSON lines) and `socialwatch eval` (on a tiny evaluation set)."""

import csv
import io
import json

import pytest
from socialwatch.classifier import evaluate
from socialwatch.classifier.jsonl import classify_lines

from socialwatch.cli import main


def run_lines(classifier, text):
    out, err = io.StringIO(), io.StringIO()
    status = classify_lines(classifier, io.StringIO(text), out, err)
    return status, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_each_input_line_gives_one_output_line_in_order(packaged):
    status, outputs, err = run_lines(packaged, '{"id": 1, "text": "i am gay"}\n'
                                               '{"id": "b", "text": "i want to die"}\n'
                                               '{"id": null, "text": "kys"}\n')
    assert (status, err) == (0, "")
    assert [o["id"] for o in outputs] == [1, "b", None]
    assert outputs[0]["flags"] == []
    flag = outputs[1]["flags"][0]
    assert (flag["category"], flag["subcategory"], flag["severity"], flag["score"]) == (
        "self_harm", "ideation", "critical", 1.0)
    assert flag["matches"][0]["phrase"] == "i want to die"
    assert (flag["matches"][0]["start"], flag["matches"][0]["end"]) == (0, 13)
    assert set(flag) >= {"category", "subcategory", "severity", "score", "matches"}
    assert set(flag["matches"][0]) >= {"phrase", "start", "end"}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("not json", "line 2: not JSON"),
        ('["id", "text"]', 'line 2: expected an object with "id" and "text"'),
        ('{"id": 2}', 'line 2: expected an object with "id" and "text"'),
        ('{"text": "kys"}', 'line 2: expected an object with "id" and "text"'),
        ('{"id": 2, "text": 5}', 'line 2: expected an object with "id" and "text"'),
    ],
)
def test_a_malformed_line_is_reported_by_number_and_the_rest_is_classified(packaged, bad, message):
    status, outputs, err = run_lines(packaged, '{"id": 1, "text": "kys"}\n' + bad + '\n{"id": 3, "text": "kys"}\n')
    assert status == 1
    assert message in err
    assert [o["id"] for o in outputs] == [1, 3]


def test_blank_lines_are_skipped(packaged):
    status, outputs, _ = run_lines(packaged, '\n{"id": 1, "text": "kys"}\n\n')
    assert (status, [o["id"] for o in outputs]) == (0, [1])


def test_classify_streams_one_line_at_a_time(packaged):
    """The next input line is read only after the previous output line was written."""
    out, err = io.StringIO(), io.StringIO()
    seen = []

    def lines():
        for number in range(3):
            seen.append(len(out.getvalue().splitlines()))
            yield json.dumps({"id": number, "text": "kys"})

    classify_lines(packaged, lines(), out, err)
    assert seen == [0, 1, 2]


def write_tiny_eval_set(directory):
    bullying = directory / "bullying"
    bullying.mkdir()
    (bullying / "wang2020_cyberbullying_valid.csv").write_text(
        "tweet_text,cyberbullying_type\n"
        "nobody likes you,other_cyberbullying\n"
        "you are so stupid,other_cyberbullying\n"
        "great game tonight,not_cyberbullying\n"
        "the weather is nice,age\n", encoding="utf-8")
    pii_dir = directory / "pii"
    pii_dir.mkdir()
    text = "call me at (212) 555-0134"
    (pii_dir / "presidio_synth_dev.json").write_text(json.dumps([{
        "full_text": text, "template_id": 2,
        "spans": [{"entity_type": "PHONE_NUMBER", "entity_value": "(212) 555-0134",
                   "start_position": 11, "end_position": 25}]}]), encoding="utf-8")


def test_eval_prints_precision_recall_f1_and_examples(tmp_path, capsys):
    write_tiny_eval_set(tmp_path)
    status = main(["eval", "--data", str(tmp_path), "--examples", "3"])
    out = capsys.readouterr().out
    assert status == 0
    wang = next(line for line in out.splitlines() if line.startswith("| wang2020 "))
    # 3 positives of which 2 flagged, 1 negative not flagged: P 1.0, R 0.667, F1 0.8, FP rate 0
    assert wang.split(" | ")[1:7] == ["bullying", "4", "1.000", "0.667", "0.800", "0.000"]
    phone = next(line for line in out.splitlines() if line.startswith("| presidio_pii (phone"))
    assert phone.split(" | ")[3:6] == ["1.000", "1.000", "1.000"]
    assert "- missed: the weather is nice" in out
    assert out.startswith("lexicon ")


def test_eval_of_a_missing_directory_says_so(tmp_path, capsys):
    assert main(["eval", "--data", str(tmp_path / "absent"), "--set", "wang2020"]) == 1
    err = capsys.readouterr().err
    assert "wang2020:" in err and "not found, skipped" in err
    assert "no evaluation set found" in err


def test_eval_measures_the_school_posts_per_category_with_recall_per_language(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(evaluate, "PACKAGED_SETS", tmp_path)
    with (tmp_path / "school_posts.csv").open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "language", "labels", "kind", "split", "note"])
        writer.writerows([
            ["nobody likes you, seriously", "en", "bullying", "signal", "test", "exclusion"],
            ["you are so stupid", "en", "bullying", "signal", "test", "targeted insult"],
            ["he was rude to me today", "en", "bullying", "signal", "test", "missed on purpose"],
            ["eres un idiota", "es", "bullying", "signal", "test", "insult"],
            ["i want to die", "en", "self_harm", "signal", "test", "ideation"],
            ["this homework is killing me", "en", "", "look-alike", "test", "hyperbole"],
            ["kys", "en", "", "look-alike", "dev", "the dev half is not measured"],
        ])
    status = main(["eval", "--data", str(tmp_path / "absent"), "--set", "school_posts_bullying",
                   "--set", "school_posts_self_harm"])
    out = capsys.readouterr().out
    assert status == 0
    bullying = next(line for line in out.splitlines() if line.startswith("| school_posts_bullying "))
    # the test half: 4 positives, 3 flagged (en 2 of 3, es 1 of 1); 2 negatives, none flagged
    assert bullying.split(" | ")[1:8] == ["bullying", "6", "1.000", "0.750", "0.857", "0.000",
                                          "recall en 0.67, es 1.00"]
    self_harm = next(line for line in out.splitlines() if line.startswith("| school_posts_self_harm "))
    assert self_harm.split(" | ")[1:8] == ["self_harm", "6", "1.000", "1.000", "1.000", "0.000", "recall en 1.00"]


def test_eval_counts_a_flag_of_any_category_on_the_ordinary_posts_test_half(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(evaluate, "PACKAGED_SETS", tmp_path)
    with (tmp_path / "ordinary_posts.csv").open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "language", "split"])
        writer.writerows([
            ["i want pizza so bad", "en", "test"],
            ["call me at (212) 555-0134", "en", "test"],  # personal information counts too
            ["nobody likes you", "en", "test"],
            ["tengo sueño jaja", "es", "test"],
            ["kys", "en", "dev"],  # the dev half is not measured
        ])
    assert main(["eval", "--data", str(tmp_path / "absent"), "--set", "ordinary_posts"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| ordinary_posts "))
    assert row.split(" | ")[1:8] == ["any", "4", "—", "—", "—", "0.500", "flag rate 50.00%"]


def test_eval_refuses_an_unknown_set(tmp_path, capsys):
    assert main(["eval", "--data", str(tmp_path), "--set", "nope"]) == 2
    assert "unknown set nope" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ('"You\\xa0fool\\nreally"', "You\xa0fool\nreally"),
        ('"A\\xc2\\xa0majority"', "A\xa0majority"),  # UTF-8 bytes, escaped
        ('"plain"', "plain"),
    ],
)
def test_the_kaggle_loader_unescapes_comments(raw, text):
    assert evaluate._kaggle_text(raw) == text
