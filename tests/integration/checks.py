"""checks: what every integration test prints and counts.

    from checks import check, failures, wait_until
    check(cond, "what must hold")      # "ok   ..." or "FAIL ...", counted
    ...
    return 1 if failures else 0
"""
import time

failures = []


def check(cond, what):
    """Prints the check's outcome; a failed one is counted in failures."""
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def wait_until(pred, timeout, step=0.1):
    """pred() until true or timeout seconds passed; its last value."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)
