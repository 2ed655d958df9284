"""Run short Python snippets from tutoring transcripts in a locked-down subprocess.

The accuracy grader compares what a tutor says code prints with what it really prints; that means
executing code found in session files, which must never touch the network, write files, spawn
processes, run forever or flood memory. See `runner.py` for the layers of protection.
"""

from evalwheel.sandbox.runner import SandboxLimits, SandboxResult, run_python, run_python_many, split_outputs

__all__ = ["SandboxLimits", "SandboxResult", "run_python", "run_python_many", "split_outputs"]
