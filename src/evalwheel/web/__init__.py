"""The review workspace: a server-rendered dashboard over runs and monitoring, and the human QA queue.

`create_app(store, token=...)` builds the FastAPI app; `evalwheel serve` runs it with uvicorn.
"""

from evalwheel.web.app import create_app

__all__ = ["create_app"]
