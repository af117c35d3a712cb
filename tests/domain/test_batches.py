import itertools
import json

import pytest

from omicsd.domain.batches import (
    BATCH_TRANSITIONS,
    CANCELLABLE,
    DELETABLE,
    RUNS_DELETABLE,
    BatchStatus,
    RunSummary,
    SubmissionStatus,
    check_batch,
    check_default,
    check_one_filter,
    check_setting,
    merge_setting,
    parse_settings_file,
    run_summary,
    submission_summary,
)
from omicsd.domain.transitions import decide
from omicsd.errors import ValidationError

B = BatchStatus


def test_every_status_has_a_row_and_the_happy_path_is_allowed() -> None:
    assert set(BATCH_TRANSITIONS) == set(BatchStatus)
    path = [B.CREATING, B.PENDING, B.SUBMITTING, B.INPROGRESS, B.PROCESSED, B.RUNS_DELETING, B.RUNS_DELETED]
    for current, target in itertools.pairwise(path):
        assert decide(BATCH_TRANSITIONS, "Batch 1", current, target).accepted


def test_failure_cancel_and_delete_edges() -> None:
    for status in (B.CREATING, B.PENDING, B.SUBMITTING):
        assert B.FAILED in BATCH_TRANSITIONS[status]
    assert B.FAILED not in BATCH_TRANSITIONS[B.INPROGRESS]
    for status in CANCELLABLE:
        assert B.STOPPING in BATCH_TRANSITIONS[status]
    assert BATCH_TRANSITIONS[B.STOPPING] == {B.CANCELLED}
    assert BATCH_TRANSITIONS[B.RUNS_DELETING] == {B.RUNS_DELETED, B.RUNS_DELETE_FAILED}
    assert {B.PROCESSED, B.CANCELLED} == RUNS_DELETABLE
    assert {B.PROCESSED, B.FAILED, B.CANCELLED, B.RUNS_DELETE_FAILED, B.RUNS_DELETED} == DELETABLE
    for final in (B.FAILED, B.RUNS_DELETED, B.RUNS_DELETE_FAILED):
        assert not BATCH_TRANSITIONS[final]
    rejected = decide(BATCH_TRANSITIONS, "Batch 1", B.PROCESSED, B.STOPPING)
    assert not rejected.accepted and "PROCESSED" in rejected.reason


def test_merge_per_key_with_the_run_winning_and_no_batch_tags() -> None:
    default = {
        "workflowId": "1",
        "roleArn": "arn:aws:iam::1:role/r",
        "name": "default",
        "priority": 1,
        "parameters": {"a": 1, "b": 2},
        "runTags": {"team": "x", "cost": "c"},
        "engineSettings": {"profile": "d"},
        "networkingMode": "VPC",
    }
    entry = {"runSettingId": "s", "parameters": {"b": 3}, "runTags": {"cost": "run"}, "priority": 9}
    merged = merge_setting(default, entry)
    assert merged["parameters"] == {"a": 1, "b": 3}
    assert merged["tags"] == {"team": "x", "cost": "run"}
    assert (merged["name"], merged["priority"], merged["networkingMode"]) == ("default", 9, "VPC")
    assert merged["engineSettings"] == {"profile": "d"}
    assert "runTags" not in merged and "runSettingId" not in merged
    replaced = merge_setting(default, {"runSettingId": "t", "engineSettings": {"profile": "p"}, "name": "n"})
    assert replaced["engineSettings"] == {"profile": "p"} and replaced["name"] == "n"
    assert merge_setting({"workflowId": "1"}, {"runSettingId": "u"})["parameters"] == {}
    assert default["parameters"] == {"a": 1, "b": 2}, "the default is not modified"


def test_late_batch_checks_use_the_service_messages() -> None:
    with pytest.raises(ValidationError, match=r"^Batch has 4 runs but 3 runs is the max\.$"):
        check_batch([{"runSettingId": str(i)} for i in range(4)], max_runs=3)
    with pytest.raises(ValidationError, match=r"^Expected 3 unique runSettingIds but there were 2$"):
        check_batch([{"runSettingId": "a"}, {"runSettingId": "b"}, {"runSettingId": "a"}])
    with pytest.raises(ValidationError, match="Run setting 1 needs a runSettingId"):
        check_batch([{"runSettingId": "a"}, {"runSettingId": 5}])
    with pytest.raises(ValidationError, match="Run setting 0"):
        check_batch(["not an object"])
    with pytest.raises(ValidationError, match="no run settings"):
        check_batch([])
    assert check_batch([{"runSettingId": "a"}, {"runSettingId": "b"}]) == ["a", "b"]


def test_settings_file_must_be_a_json_array() -> None:
    assert parse_settings_file(json.dumps([{"runSettingId": "a"}]).encode()) == [{"runSettingId": "a"}]
    with pytest.raises(ValidationError, match="not valid JSON"):
        parse_settings_file(b"[{")
    with pytest.raises(ValidationError, match="JSON array"):
        parse_settings_file(b'{"runSettingId": "a"}')


def test_file_entry_shapes() -> None:
    check_setting({"runSettingId": "a", "name": "n", "priority": 0, "parameters": {}, "outputBucketOwnerId": "1" * 12})
    bad = [
        ({"runSettingId": "a", "roleArn": "x"}, "roleArn"),
        ({"runSettingId": "a", "priority": 100_001}, "priority"),
        ({"runSettingId": "a", "priority": True}, "priority"),
        ({"runSettingId": "a", "name": ""}, "name"),
        ({"runSettingId": "a", "parameters": [1]}, "parameters"),
        ({"runSettingId": "a", "runTags": {"k": 1}}, "runTags"),
        ({"runSettingId": "a", "outputBucketOwnerId": "12"}, "outputBucketOwnerId"),
        ({"runSettingId": "a", "outputUri": 3}, "outputUri"),
    ]
    for entry, member in bad:
        with pytest.raises(ValidationError, match=member):
            check_setting(entry)


def test_default_checks() -> None:
    template = {"a": {"optional": False}}
    check_default({"parameters": {"a": 1}}, template)
    check_default({}, template)
    with pytest.raises(ValidationError, match="READY2RUN"):
        check_default({"workflowType": "READY2RUN"}, template)
    with pytest.raises(ValidationError, match="zzz"):
        check_default({"parameters": {"zzz": 1}}, template)
    with pytest.raises(ValidationError, match="aws:"):
        check_default({"runTags": {"aws:k": "v"}}, template)


def test_summaries() -> None:
    counts = {"SUCCESS": 3, "FAILED": 2, "CANCEL_SUCCESS": 4, "CANCEL_FAILED": 1, "DELETE_SUCCESS": 5}
    summary = submission_summary(counts, 20, B.SUBMITTING)
    assert (summary.successful_start, summary.failed_start, summary.pending_start) == (13, 2, 5)
    assert (summary.successful_cancel, summary.failed_cancel) == (4, 1)
    assert (summary.successful_delete, summary.failed_delete) == (5, 0)
    assert submission_summary(counts, 20, B.CANCELLED).pending_start == 0
    assert submission_summary({}, None, B.CREATING).pending_start == 0
    runs = run_summary({"PENDING": 2, "COMPLETED": 5, "DELETED": 1})
    assert runs == RunSummary(pending=2, completed=5, deleted=1)
    assert set(SubmissionStatus) >= {SubmissionStatus(k) for k in counts}


def test_one_filter() -> None:
    check_one_filter(a=None, b="x")
    with pytest.raises(ValidationError, match="a, b"):
        check_one_filter(a="1", b="x")
