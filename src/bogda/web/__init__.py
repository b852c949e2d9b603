"""Floor 7: the web face — REST API under ``/api/v1`` and the NiceGUI operator console on one FastAPI app.

Faces hold no domain logic (architecture.md rule 4): they parse input, call registry / store / findings /
standards functions and render the result.
"""
