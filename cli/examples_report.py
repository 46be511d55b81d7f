"""What `mappings test` and `rules test` print: a line per example that failed (or passed, with -v), then the count."""

from __future__ import annotations

from collections.abc import Iterable


class ExamplesReport:
    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.passed = self.failed = 0

    def add(self, passed: bool, label: str, details: Iterable[str] = ()) -> None:
        """One example's outcome; ``details`` are printed under it (a failure's differences, a pass's output)."""
        if passed:
            self.passed += 1
            if not self.verbose:
                return
        else:
            self.failed += 1
        print(f"{'PASS' if passed else 'FAIL'}  {label}")
        for line in details:
            print(f"      {line}")

    def finish(self) -> int:
        """Print the count; the exit code (1 when any example failed)."""
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0
