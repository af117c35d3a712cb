import io
import logging

from omicsd.engines._runlogs import RunLogs
from omicsd.logs.files import LogReader
from omicsd.logs.streams import LOG_GROUP, engine_stream
from tests.engines.test_spec import make_spec


def _engine_logger(name: str) -> tuple[logging.Logger, logging.StreamHandler[io.StringIO], io.StringIO]:
    """A logger that, like cwltool's, carries its own stderr handler."""
    out = io.StringIO()
    own = logging.StreamHandler(out)
    engine = logging.getLogger(name)
    engine.setLevel(logging.INFO)
    engine.addHandler(own)
    return engine, own, out


def test_shipped_records_are_not_also_written_by_the_engines_own_handlers(tmp_path):
    engine, own, out = _engine_logger("omicsd-test-engine-a")
    logs = RunLogs(make_spec(logs_root=str(tmp_path), log_level="ALL"))
    try:
        with logs.engine_log(["omicsd-test-engine-a"]):
            engine.info("job 1 started")
            engine.warning("job 2 looks odd")
        assert own.level == logging.NOTSET  # restored
        engine.info("after the run")
    finally:
        engine.removeHandler(own)
        logs.close()
    assert out.getvalue().splitlines() == ["job 2 looks odd", "after the run"]
    shipped = [e.message for e in LogReader(tmp_path).read(LOG_GROUP, engine_stream("1234567")).events]
    assert any("job 1 started" in m for m in shipped)
    assert any("job 2 looks odd" in m for m in shipped)


def test_with_log_level_off_the_engines_own_handlers_keep_everything_they_are_given(tmp_path):
    engine, own, out = _engine_logger("omicsd-test-engine-b")
    logs = RunLogs(make_spec(logs_root=str(tmp_path), log_level="OFF"))
    try:
        with logs.engine_log(["omicsd-test-engine-b"]):
            engine.info("not shipped, below the logger's level")
            engine.warning("kept in driver.log")
    finally:
        engine.removeHandler(own)
        logs.close()
    assert out.getvalue().splitlines() == ["kept in driver.log"]
