"""Names from uploads and messages reach terminals and log readers: whatever they hold, a log
line stays one JSON line and a printed name cannot colour the terminal or forge a row."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocrflow.core import redact
from ocrflow.observability.log import get_logger
from ocrflow.observability.terminal import json_line, json_text, shown
from tests.support.replay_server import ReplayServer
from tests.unit.test_cli import base_env, ocrflow
from tests.unit.test_pipeline import png_bytes

#: What readers take for line ends, terminal controls and bidi overrides, mixed into text.
HOSTILE = ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029",
           "\x1b[31m", "\x1b]0;title\x07", "\x9b", "\u202e", "\u2066", "\x00", "\x7f",
           "\ud800", "\U000e0041"]
hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=8)),
                        max_size=12).map("".join)


@given(hostile_text)
def test_a_shown_name_is_printable_and_one_line(text: str) -> None:
    out = shown(text)
    assert out.isprintable()
    assert len(out.splitlines()) <= 1
    if text.isprintable():
        assert out == text  # ordinary names, Chinese ones included, are left as they are


@given(st.recursive(st.none() | st.booleans() | st.integers() | hostile_text,
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(hostile_text, inner, max_size=4), max_leaves=12))
def test_json_text_is_one_printable_line_with_the_same_value(value: object) -> None:
    line = json_line(value)
    assert line.isprintable() and len(line.splitlines()) == 1
    assert json.loads(line) == value
    indented = json_text(json.dumps(value, ensure_ascii=False, indent=2))
    assert json.loads(indented) == value


@given(key=hostile_text, value=hostile_text)
def test_a_log_line_stays_one_json_line_whatever_a_key_holds(key: str, value: str) -> None:
    from ocrflow.observability import log

    stream = io.StringIO()
    log._configured = None
    log.configure("ocrflow-test", "INFO", stream)
    try:
        get_logger().warning("record failed", key=key, detail=value)
    finally:
        log._configured = None
        log.configure("ocrflow", "INFO")
    text = stream.getvalue()
    assert text.endswith("\n")
    [line] = text[:-1].splitlines()  # splitlines: every Unicode line end, U+2028 included
    doc = json.loads(line)
    if redact.text(key) == key:
        assert doc["key"] == key
    if redact.text(value) == value:
        assert doc["detail"] == value


@pytest.mark.skipif(sys.platform == "win32", reason="file names with control characters")
def test_run_prints_hostile_file_names_escaped(tmp_path: Path, replay: ReplayServer) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    names = ["a\x1b[31mred.png", "forged\nrow.png", "b\u202egnp.exe.png", "c\u2028d.png"]
    for name in names:
        (docs / name).write_bytes(png_bytes())
    run = ocrflow("run", "docs", cwd=tmp_path, env=base_env(tmp_path, replay))
    assert run.returncode == 0, run.stderr
    assert "\x1b" not in run.stdout and "\u202e" not in run.stdout
    lines = run.stdout.split("\n")
    table = lines[:lines.index("")]
    assert len(table) == 2 + len(names)  # header, rule, one row per file: no forged row
    assert all(line.isprintable() for line in table)
    for shown_name in ("a\\x1b[31mred.png", "forged\\nrow.png", "b\\u202egnp.exe.png",
                       "c\\u2028d.png"):
        assert sum(shown_name in line for line in table) == 1, shown_name


def test_errors_on_the_terminal_escape_the_names_they_quote(tmp_path: Path) -> None:
    run = ocrflow("run", "no\x1b[2Jsuch\nfolder", cwd=tmp_path, env={})
    assert run.returncode == 2
    [line] = run.stderr.splitlines()
    assert "\x1b" not in line and "no\\x1b[2Jsuch\\nfolder" in line


def test_queue_dump_lines_stay_lines_and_decode_to_the_same_names(tmp_path: Path) -> None:
    from ocrflow.adapters.registry import open_queue
    from ocrflow.contract.messages import ResultMessage, outgoing
    from ocrflow.core.models import ObjectRef

    names = ["a\u2028b.png", "c\x85d\u202e.png", "e\x1b[2Jf\x9b.png", "年\u2029.png"]
    url = f"sqlite:///{tmp_path / 'q.db'}?queue=results"
    queue = open_queue(url)
    for name in names:
        queue.publish(outgoing(ResultMessage(
            function="recognize", ref=ObjectRef("uploads", name, None, "e", 1),
            api="general-text", region="cn-north-4", result={}).event()))
    queue.close()
    run = ocrflow("queue", "dump", url, cwd=tmp_path, env={})
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()  # every Unicode line end
    assert len(lines) == len(names)
    assert all(line.isprintable() for line in lines)
    assert [json.loads(line)["subject"] for line in lines] == names
