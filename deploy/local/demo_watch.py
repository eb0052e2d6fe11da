#!/usr/bin/env python3
"""The demo's eyes: waits for the sample practices with progress on the terminal, and checks
every sample against samples/expected.json when they have arrived.

    demo_watch.py wait applications|integrations --pid NAME=PID:LOG ... [--timeout S]
    demo_watch.py check [--since EPOCH]

`wait` shows the sample practices by state (in place on a terminal, one line per change
otherwise) until none is on its way, and fails at once, naming the process and its log, when
one of the processes given with --pid has died. When the time runs out it lists each practice
still on its way with its state, how long it has been there, and its error-queue entries.

`check` compares each sample's practice with its `demo` entry in expected.json (final state,
rejection reasons, the emails its citizen got: sent in the folder's notifications and present in
maildev under their Message-ID) and prints a one-screen summary. It exits 1 on any mismatch.
A demo run again finds the practices of the run before (same idempotency keys) with their
emails already sent: an email sent before --since (this run's start) is not sent again, and
maildev may have been restarted since, so only the emails sent during this run must be in it.

Standard library only; the database is read with psql and the URL in ./sportello.toml, the
broker's error queues with `sportello dlq list --json`.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import tomllib
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
SPORTELLO = REPO / "target" / "debug" / "sportello"
# The namespace of practice ids (shared/src/domain/submission.rs, PRACTICE_ID_NAMESPACE).
PRACTICE_ID_NAMESPACE = uuid.UUID(int=0x5C1E0A7E20264B1D9C0E5B0E7A110001)
IN_FLIGHT = ("received", "validated", "registered", "stored", "dispatched", "in_progress")
STATE_ORDER = ("received", "validated", "registered", "stored", "dispatched", "in_progress",
               "integration_requested", "observations_requested", "completed", "denied", "rejected",
               "withdrawn", "delivered", "silent_consent")


def practice_id(idempotency_key):
    return uuid.uuid5(PRACTICE_ID_NAMESPACE, idempotency_key)


class Sample:
    """One practice the demo submits, with what the demo must end with."""

    def __init__(self, file, key, tax_code, state, emails, reasons=(), answers=False,
                 undeliverable=()):
        self.file, self.id, self.tax_code = file, practice_id(key), tax_code
        self.state, self.emails, self.reasons = state, emails, list(reasons)
        # Emails that cannot go out (the address is not one): they must end failed_permanent.
        self.undeliverable = list(undeliverable)
        # A citizen's integration: its own path ends at `dispatched`, with its practice.
        self.answers = answers


def samples():
    expected = json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))
    out = []
    for file, want in sorted(expected.items()):
        demo = want["demo"]
        out.append(Sample(f"submissions/{file}", want["idempotency_key"], want["tax_code"],
                          demo["state"], demo["emails"], want["reasons"],
                          undeliverable=demo.get("undeliverable", [])))
        if "integration" in demo:
            answer = demo["integration"]
            out.append(Sample(f"integrations/{answer['file']}", answer["idempotency_key"],
                              want["tax_code"], answer["state"], answer["emails"], answers=True))
    return out


def database_url():
    config = tomllib.loads((REPO / "sportello.toml").read_text(encoding="utf-8"))
    return config["database"]["url"]


def query(sql):
    """Rows of `sql` as lists of strings (psql's unaligned output, fields split on US)."""
    done = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
                           "-d", database_url(), "-c", sql],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"[demo] error: psql: {done.stderr.strip()}")
    return [line.split("\x1f") for line in done.stdout.splitlines() if line]


def id_list(items):
    return "ARRAY[" + ",".join(f"'{s.id}'" for s in items) + "]::uuid[]"


def states(items):
    """id -> (state, seconds in that state); a practice intake has not recorded yet is absent."""
    rows = query(f"SELECT id, state, extract(epoch FROM now() - updated_at)::int FROM practices "
                 f"WHERE id = ANY({id_list(items)})")
    return {uuid.UUID(r[0]): (r[1], int(r[2])) for r in rows}


def on_its_way(sample, state, phase):
    if state is None or state in IN_FLIGHT and not (sample.answers and state == "dispatched"):
        return True
    return phase == "integrations" and state == "integration_requested"


def dead_process(pids):
    for name, (pid, log) in pids.items():
        try:
            os.kill(pid, 0)
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                if stat.read().split(") ", 1)[1].startswith("Z"):
                    raise ProcessLookupError
        except (ProcessLookupError, FileNotFoundError):
            return name, log
    return None


def tail(path, lines=15):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def error_queue_entries():
    """practice id -> [(stage, reason)] of what waits in (or was parked from) the error queues."""
    done = subprocess.run([str(SPORTELLO), "dlq", "list", "--json"], capture_output=True,
                          text=True, check=False, cwd=REPO)
    entries = {}
    if done.returncode != 0:
        return entries
    for message in json.loads(done.stdout).get("messages", []):
        if message.get("practice_id"):
            entries.setdefault(uuid.UUID(message["practice_id"]), []).append(
                (message["stage"], message["reason"]))
    return entries


def wait(phase, pids, timeout):
    items = [s for s in samples() if phase == "integrations" or not s.answers]
    tty = sys.stdout.isatty()
    started, last = time.monotonic(), None
    while True:
        seen = states(items)
        waiting = [s for s in items if on_its_way(s, seen.get(s.id, (None, 0))[0], phase)]
        counts = Counter(seen.get(s.id, ("not yet received", 0))[0] for s in items)
        line = " · ".join(f"{state} {counts[state]}" for state in
                          ("not yet received",) + STATE_ORDER if counts[state])
        elapsed = int(time.monotonic() - started)
        if tty:
            print(f"\r\033[K[demo] {line} ({elapsed}s)", end="", flush=True)
        elif line != last:
            print(f"[demo] {line}", flush=True)
        last = line
        if not waiting:
            if tty:
                print()
            return
        if dead := dead_process(pids):
            name, log = dead
            print()
            print(tail(log), file=sys.stderr)
            sys.exit(f"[demo] error: the {name} stopped; see {log}")
        if elapsed >= timeout:
            print()
            queued = error_queue_entries()
            print(f"[demo] error: {len(waiting)} practices still on their way after {timeout}s:",
                  file=sys.stderr)
            for s in waiting:
                state, seconds = seen.get(s.id, ("not received", 0))
                print(f"  {s.file}  {s.id}  {state} for {seconds}s", file=sys.stderr)
                for stage, reason in queued.get(s.id, []):
                    print(f"      error queue {stage}: {reason}", file=sys.stderr)
            sys.exit(1)
        time.sleep(1)


def maildev_message_ids():
    """Message-IDs in the SMTP sink, with the addresses each was sent to."""
    with urllib.request.urlopen("http://127.0.0.1:1080/api/email", timeout=10) as response:
        emails = json.load(response)
    found = {}
    for email in emails:
        headers = {k.lower(): v for k, v in (email.get("headers") or {}).items()}
        message_id = email.get("messageId") or headers.get("message-id")
        if message_id:
            message_id = message_id if message_id.startswith("<") else f"<{message_id}>"
            found.setdefault(message_id, set()).update(
                to["address"].lower() for to in email.get("to") or [])
    return found


def check(since):
    items = samples()
    seen = states(items)
    rows = query(f"SELECT id, coalesce(rejection_reasons::text, '[]') FROM practices "
                 f"WHERE id = ANY({id_list(items)})")
    reasons = {uuid.UUID(r[0]): sorted({x["code"] for x in json.loads(r[1])}) for r in rows}
    notifications = {}
    for pid, event, status, recipient, message_id, sent_at in query(
            f"SELECT practice_id, event, status, recipient, message_id, "
            f"coalesce(extract(epoch FROM sent_at)::text, '') FROM notifications "
            f"WHERE practice_id = ANY({id_list(items)})"):
        earlier = bool(sent_at) and float(sent_at) < since
        notifications.setdefault(uuid.UUID(pid), {})[event] = (
            status, recipient.lower(), message_id, earlier)
    in_sink = maildev_message_ids()

    problems = []
    resent_before = 0
    for s in items:
        state = seen.get(s.id, ("not received", 0))[0]
        if state != s.state:
            problems.append(f"{s.file}: state {state}, expected {s.state}")
        if reasons.get(s.id, []) != sorted(s.reasons):
            problems.append(f"{s.file}: reasons {reasons.get(s.id, [])}, expected {s.reasons}")
        sent = notifications.get(s.id, {})
        if sorted(sent) != sorted(s.emails + s.undeliverable):
            problems.append(f"{s.file}: emails for {sorted(sent)}, expected "
                            f"{sorted(s.emails + s.undeliverable)}")
        for event, (status, recipient, message_id, earlier) in sorted(sent.items()):
            if event in s.undeliverable:
                if status != "failed_permanent":
                    problems.append(f"{s.file}: the {event} email to an invalid address is {status}")
            elif status != "sent":
                problems.append(f"{s.file}: the {event} email is {status}")
            elif earlier:
                resent_before += 1
            elif recipient not in in_sink.get(message_id, set()):
                problems.append(f"{s.file}: the {event} email ({message_id}) is not in maildev")

    ids = id_list(items)
    registrations, = query(f"SELECT count(*) FROM registrations WHERE practice_id = ANY({ids})")[0]
    archived, = query(f"SELECT count(*) FROM practice_archive_objects WHERE practice_id = ANY({ids})")[0]
    emails = sum(1 for sent in notifications.values() for n in sent.values() if n[0] == "sent")
    by_state = Counter(seen.get(s.id, ("not received", 0))[0] for s in items)
    citizens = sorted({s.tax_code for s in items})
    print()
    print(f"[demo] {len(items)} practices of {len(citizens)} citizens: " +
          ", ".join(f"{state} {n}" for state, n in sorted(by_state.items())))
    print(f"[demo] {registrations} protocol registrations, {archived} archived objects, "
          f"{emails} emails sent")
    if resent_before:
        print(f"[demo] {resent_before} of those emails were sent by an earlier run of the demo "
              f"(the same practices): not sent again")
    if problems:
        print(f"[demo] {len(problems)} samples did not end as samples/expected.json says:",
              file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        sys.exit(1)
    print("[demo] every sample ended as samples/expected.json says")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    waiting = commands.add_parser("wait")
    waiting.add_argument("phase", choices=("applications", "integrations"))
    waiting.add_argument("--pid", action="append", default=[], metavar="NAME=PID:LOG")
    waiting.add_argument("--timeout", type=int, default=300)
    checking = commands.add_parser("check")
    checking.add_argument("--since", type=float, default=0.0,
                          help="this run's start (Unix time): emails sent before it are not sought in maildev")
    args = parser.parse_args()
    if args.command == "wait":
        pids = {}
        for given in args.pid:
            name, rest = given.split("=", 1)
            pid, log = rest.split(":", 1)
            pids[name] = (int(pid), log)
        wait(args.phase, pids, args.timeout)
    else:
        check(args.since)


if __name__ == "__main__":
    main()
