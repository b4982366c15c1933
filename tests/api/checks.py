"""One line per check ("ok   name: detail" / "FAIL name: detail") and the
closing tally ("N passed, N failed"), shared by the API tests."""

passes = 0
failures = 0


def check(name, cond, detail=""):
    global passes, failures
    print(("ok   " if cond else "FAIL ") + name + (f": {detail}" if detail != "" else ""),
          flush=True)
    if cond:
        passes += 1
    else:
        failures += 1
    return cond


def summary(extra=""):
    """Prints the tally; returns the exit status (1 if anything failed)."""
    print(f"{passes} passed, {failures} failed{extra}", flush=True)
    return 1 if failures else 0
