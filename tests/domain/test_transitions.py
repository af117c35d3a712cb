from omicsd.domain.states import RUN_TRANSITIONS, TASK_TRANSITIONS, WORKFLOW_TRANSITIONS, RunStatus, TaskStatus
from omicsd.domain.states import WorkflowStatus as W
from omicsd.domain.transitions import decide


def test_workflow_creation_outcomes() -> None:
    assert decide(WORKFLOW_TRANSITIONS, "Workflow 1", W.CREATING, W.ACTIVE).accepted
    assert decide(WORKFLOW_TRANSITIONS, "Workflow 1", W.CREATING, W.FAILED).accepted


def test_rejection_names_the_resource_and_states() -> None:
    decision = decide(WORKFLOW_TRANSITIONS, "Workflow 1", W.DELETED, W.ACTIVE)
    assert not decision.accepted and not decision.noop
    assert decision.reason == "Workflow 1 cannot move from DELETED to ACTIVE"


def test_same_state_is_a_noop() -> None:
    decision = decide(RUN_TRANSITIONS, "Run 1", RunStatus.RUNNING, RunStatus.RUNNING)
    assert decision.noop and not decision.accepted


def test_terminal_runs_only_move_to_deleted() -> None:
    for terminal in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED):
        assert RUN_TRANSITIONS[terminal] == {RunStatus.DELETED}
    assert not decide(RUN_TRANSITIONS, "Run 1", RunStatus.COMPLETED, RunStatus.RUNNING).accepted


def test_every_status_has_a_row() -> None:
    assert set(RUN_TRANSITIONS) == set(RunStatus)
    assert set(TASK_TRANSITIONS) == set(TaskStatus)
    assert set(WORKFLOW_TRANSITIONS) == set(W)


def test_tasks_are_final_once_terminal() -> None:
    for status in (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED):
        assert not TASK_TRANSITIONS[status]
