"""The hash-chained audit trail: append, verify, tamper detection, concurrent writers.

Each store test runs on SQLite and, when PHANTOMLAB_TEST_PG_URL is set, on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from phantomlab.web import audit
from phantomlab.web.db import make_engine, session_scope
from phantomlab.web.models import AuditEvent


def _append(url: str, n: int, *, actor: str = "tester") -> None:
    engine = make_engine(url)
    with session_scope(engine) as db:
        for i in range(n):
            audit.record(
                db,
                actor=actor,
                center_id=None,
                action="test.write",
                subject=f"thing:{i}",
                before=None if i == 0 else {"i": i - 1},
                after={"i": i, "note": "Zürich"},
            )
    engine.dispose()


def _verify(url: str) -> audit.VerifyReport:
    engine = make_engine(url)
    with session_scope(engine) as db:
        report = audit.verify(db)
    engine.dispose()
    return report


def _tamper(url: str, sql: str) -> None:
    """Run raw SQL as an attacker with database access would (append-only triggers off)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_delete")
        else:
            conn.exec_driver_sql(
                "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"
            )
        conn.exec_driver_sql(sql)
    engine.dispose()


def test_append_and_verify(store_url):
    _append(store_url, 5)
    report = _verify(store_url)
    assert report.ok and report.count == 5 and report.problem == ""
    engine = make_engine(store_url)
    with session_scope(engine) as db:
        events = db.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
    engine.dispose()
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == "0" * 64 and report.head == events[-1].hash
    # the hash recomputed here, independently of audit.event_hash
    e = events[1]
    body = json.dumps(
        {
            "seq": e.seq,
            "ts": e.ts,
            "actor": e.actor,
            "center_id": e.center_id,
            "action": e.action,
            "subject": e.subject,
            "before": e.before,
            "after": e.after,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert e.prev_hash == events[0].hash
    assert hashlib.sha256((e.prev_hash + body).encode()).hexdigest() == e.hash
    assert json.loads(e.after) == {"i": 1, "note": "Zürich"} and json.loads(e.before) == {"i": 0}


def test_empty_chain_verifies(store_url):
    report = _verify(store_url)
    assert report.ok and report.count == 0 and report.head == "0" * 64


def test_edited_event_is_named(store_url):
    _append(store_url, 6)
    _tamper(store_url, """UPDATE audit_events SET after = '{"i":99}' WHERE seq = 4""")
    report = _verify(store_url)
    assert not report.ok and report.seq == 4
    assert "event 4" in report.problem and "edited" in report.problem


def test_edited_actor_is_named(store_url):
    _append(store_url, 3)
    _tamper(store_url, "UPDATE audit_events SET actor = 'someone-else' WHERE seq = 2")
    report = _verify(store_url)
    assert not report.ok and report.seq == 2 and "edited" in report.problem


def test_rehashed_edit_breaks_the_next_link(store_url):
    _append(store_url, 4)
    engine = make_engine(store_url)
    with session_scope(engine) as db:
        e2 = db.get(AuditEvent, 2)
        fields = {
            "seq": 2,
            "ts": e2.ts,
            "actor": e2.actor,
            "center_id": None,
            "action": e2.action,
            "subject": e2.subject,
            "before": e2.before,
            "after": '{"forged":true}',
        }
        forged = audit.event_hash(e2.prev_hash, fields)
    engine.dispose()
    _tamper(
        store_url,
        f"""UPDATE audit_events SET after = '{{"forged":true}}', hash = '{forged}' WHERE seq = 2""",
    )
    report = _verify(store_url)
    assert not report.ok and report.seq == 3 and "prev_hash" in report.problem


def test_deleted_event_is_named_as_a_gap(store_url):
    _append(store_url, 6)
    _tamper(store_url, "DELETE FROM audit_events WHERE seq = 3")
    report = _verify(store_url)
    assert not report.ok and report.seq == 3
    assert "event 3 is missing" in report.problem
    _tamper_more = "DELETE FROM audit_events WHERE seq IN (4, 5)"
    engine = make_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text(_tamper_more))
    engine.dispose()
    assert "events 3..5 are missing" in _verify(store_url).problem


def test_append_only_triggers_refuse_update_and_delete(store_url):
    _append(store_url, 2)
    engine = make_engine(store_url)
    for sql in ("UPDATE audit_events SET actor = 'x' WHERE seq = 1", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text(sql))
    for sql in ("UPDATE centers SET name = 'x'", "DELETE FROM centers"):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO centers (code, name) VALUES ('Q', 'q')"))
                conn.execute(text(sql))
    engine.dispose()
    assert _verify(store_url).ok


def test_a_rolled_back_write_leaves_no_event(store_url):
    _append(store_url, 2)
    engine = make_engine(store_url)
    with pytest.raises(RuntimeError):
        with session_scope(engine) as db:
            audit.record(db, actor="t", center_id=None, action="x.y", subject="s:1")
            raise RuntimeError("the domain write failed")
    engine.dispose()
    _append(store_url, 1)
    report = _verify(store_url)
    assert report.ok and report.count == 3


def test_concurrent_writers_never_fork_the_chain(store_url):
    engine = make_engine(store_url)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(k: int) -> None:
        try:
            start.wait()
            for i in range(25):
                with session_scope(engine) as db:
                    audit.record(
                        db,
                        actor=f"writer-{k}",
                        center_id=None,
                        action="test.concurrent",
                        subject=f"w{k}:{i}",
                        after={"k": k, "i": i},
                    )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    with session_scope(engine) as db:
        rows = db.execute(select(AuditEvent.seq, AuditEvent.subject)).all()
        report = audit.verify(db)
    engine.dispose()
    seqs = sorted(r.seq for r in rows)
    assert seqs == list(range(1, 201))  # 200 events, no duplicate, no gap
    assert len({r.subject for r in rows}) == 200  # none lost
    assert report.ok and report.count == 200
