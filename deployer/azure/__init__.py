"""Azure ML through azure-ai-ml: the typed client (client.py), long-running operations
waited on our terms (operation.py), Azure's errors with a fix (failures.py), and the
translation between our state types and the SDK's entities (entities.py)."""
