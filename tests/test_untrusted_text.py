"""Text the app did not write: the one escaping function (pages/ui/safe_text.py), the address parser
(pages/ui/address.py), CSV exports (formula prefixes) and the labels JSON of a patch folder."""
from __future__ import annotations

import csv
import io
import json

import pytest

from csmae_core.errors import InputError, UnknownLabelError
from csmae_core.retrieval.export import results_csv, results_geojson
from csmae_core.retrieval.search import Result, SearchResponse
from pages.ui.address import DEFAULT_K, address_of, known_parameters, parse_address
from pages.ui.safe_text import ELLIPSIS, NAME_LIMIT, WORD_JOINER, cleaned, shown, shown_value
from tests.payloads import PAYLOADS, markdown_problems

# ------------------------------------------------------------------------------------ safe_text


@pytest.mark.parametrize("name", PAYLOADS)
def test_every_payload_is_shown_inert_in_markdown_and_html(name):
    payload = PAYLOADS[name]
    assert markdown_problems(payload, html=True) or name in ("template-breakout", "directives", "bidi",
                                                             "zero-width", "new-blocks", "long")
    assert markdown_problems(shown(payload)) == []
    assert markdown_problems(f"<span>{shown(payload, context='html')}</span>", html=True) == []
    for context in ("markdown", "html", "attribute", "plain"):
        text = shown(payload, context=context)
        assert "\n" not in text and "\u202e" not in text and "\u200b" not in text
        assert len(cleaned(payload)) <= NAME_LIMIT + 1


def test_html_context_is_safe_in_a_javascript_template_string():
    text = shown(PAYLOADS["template-breakout"], context="html")
    assert "`" not in text and "${" not in text and "\\" not in text


def test_markdown_escapes_keep_what_a_message_says_readable():
    message = "single-band files named like <name>_B02.tif (or '../../evil_B02.tif'); 50% of it"
    assert shown(message, 600) == message  # nothing to escape: a library message reads as written
    assert shown("[x](http://h)") == f"\\[x\\](http\\:{WORD_JOINER}//h)"
    assert shown("1. first") == "1\\. first" and shown("- item") == "\\- item" and shown("# h") == "\\# h"


def test_long_text_is_cut_with_an_ellipsis_and_controls_are_visible():
    assert cleaned("A" * 100_000) == "A" * NAME_LIMIT + ELLIPSIS
    assert cleaned("a\u202eb\u200bc\x00d") == "a\ufffdb\ufffdc\ufffdd"
    assert cleaned("a\n\n  b\tc") == "a b c"
    assert shown_value("x" * 500).startswith("'x") and shown_value("x" * 500).endswith(ELLIPSIS + "'")


def test_an_unknown_context_is_refused():
    with pytest.raises(ValueError, match="context must be"):
        shown("x", context="json")


# -------------------------------------------------------------------------------------- address

PAIRS = {"S2A_MSIL2A_20170613T101031_87_48": 0, "S2B_MSIL2A_20180204T94161_57_38": 7}
SENSORS = ("s1", "s2")


def parse(**params):
    return parse_address(params, SENSORS, PAIRS.get)


def test_a_good_address_names_its_search():
    address = parse(pair="S2B_MSIL2A_20180204T94161_57_38", sensor="s1", k="5", targets="s2")
    assert address.problems == []
    search = address.search
    assert (search.row, search.sensor, search.k, search.targets) == (7, "s1", 5, ("s2",))
    assert parse(pair="S2B_MSIL2A_20180204T94161_57_38").search.targets == SENSORS
    back = address_of(search.pair_id, search.sensor, search.k, search.targets)
    assert parse(**back).search == search


@pytest.mark.parametrize("k", ["²", "9" * 5000, "-1", "0", "1001", "1e3", "five", " ", "٣"])
def test_a_bad_k_is_named_and_replaced_by_the_default(k):
    address = parse(pair="S2A_MSIL2A_20170613T101031_87_48", k=k)
    assert address.search.k == DEFAULT_K and address.search.row == 0
    [(what, value)] = address.problems
    assert "k must be a whole number from 1 to 1000" in what and value == k


def test_bad_sensor_and_targets_are_named_not_silently_replaced():
    address = parse(pair="S2A_MSIL2A_20170613T101031_87_48", sensor="s3", targets="s9,xx")
    assert address.search.sensor == "s2" and address.search.targets == SENSORS
    assert [value for _, value in address.problems] == ["s3", "s9,xx"]
    assert "the sensor must be s1 or s2" in address.problems[0][0]


@pytest.mark.parametrize("name", PAYLOADS)
def test_a_hostile_pair_names_no_search_and_is_quoted_cut_and_inert(name):
    address = parse(pair=PAYLOADS[name], k="5")
    assert address.search is None and len(address.problems) == 1
    what, value = address.problems[0]
    message = f"{what} {shown_value(value)}"
    assert markdown_problems(message) == [] and len(message) < 250


def test_without_a_pair_there_is_no_search_and_other_parameters_are_ignored():
    assert parse(k="²", sensor="s3").search is None and parse(k="²").problems == []
    assert known_parameters({"pair": "p", "utm_source": "x", "k": "3"}) == {"pair": "p", "k": "3"}


# ------------------------------------------------------------------------------------ CSV export


def result(pair_id: str, labels: list[str], rank: int = 1) -> Result:
    return Result(rank, 0.9, f"{pair_id}_S2", "s2", pair_id, rank, labels, -3.5, 50.1,
                  (-3.51, 50.09, -3.49, 50.11), 12.0, labels, [], [], 1.0, 1.0, 1.0)


def test_csv_cells_that_a_spreadsheet_would_run_get_a_quote_and_geojson_stays_exact():
    hostile = [PAYLOADS["formula"], "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\tcmd", "\rcmd"]
    results = [result(value, [value, "Arable land"], rank) for rank, value in enumerate(hostile, start=1)]
    response = SearchResponse(results, None, None, False, 1.0)
    rows = list(csv.DictReader(io.StringIO(results_csv(response))))
    for row, value in zip(rows, hostile):
        assert row["pair_id"] == "'" + value and row["labels"].startswith("'" + value)
        assert row["lon"] == "-3.5"  # numbers stay numbers, negative ones included
    features = json.loads(results_geojson(response, {}))["features"]
    assert [f["properties"]["pair_id"] for f in features] == hostile
    assert rows[0]["id"] == f"'{hostile[0]}_S2"
    plain = list(csv.DictReader(io.StringIO(results_csv(SearchResponse([result("S2A_x-1", ["Arable land"])],
                                                                         None, None, False, 1.0)))))
    assert (plain[0]["pair_id"], plain[0]["labels"]) == ("S2A_x-1", "Arable land")  # others are untouched


# ------------------------------------------------------------------------------------ labels JSON


def patch_with_labels(tmp_path, meta) -> object:
    from tests.test_upload import make_patch_folder

    folder = make_patch_folder(tmp_path)
    next(folder.glob("*_labels_metadata.json")).write_text(json.dumps(meta))
    return folder


@pytest.mark.parametrize("meta, field, expected", [
    ({"labels": 5}, "'labels'", "must be a list of BigEarthNet label names (strings) or CLC codes (integers), "
                                "not int (5)"),
    ({"labels": "Arable land"}, "'labels'", "not str (\"Arable land\")"),
    ({"labels": [["nested"]]}, "'labels'", "not list"),
    ({"labels": [], "acquisition_time": 20170613}, "'acquisition_time'", "must be a string, not int (20170613)"),
    ({"labels": [], "corresponding_s2_patch": {"a": 1}}, "'corresponding_s2_patch'", "must be a string, not dict"),
])
def test_a_labels_json_field_of_the_wrong_type_is_named(tmp_path, meta, field, expected):
    from csmae_core.io.folders import read_patch_folder

    with pytest.raises(InputError) as caught:
        read_patch_folder(patch_with_labels(tmp_path, meta))
    message = str(caught.value)
    assert "_labels_metadata.json: field " + field in message and expected in message
    assert "fix or remove the labels file" in message


def test_an_unknown_label_in_the_labels_json_names_the_file_and_field(tmp_path):
    from csmae_core.io.folders import read_patch_folder

    with pytest.raises(UnknownLabelError, match=r"_labels_metadata\.json: field 'labels' holds unknown label "
                                                 r"'Moon dust'.*fix or remove the labels file"):
        read_patch_folder(patch_with_labels(tmp_path, {"labels": ["Arable land", "Moon dust"]}))
