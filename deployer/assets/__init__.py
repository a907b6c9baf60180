"""Azure ML's assets as the action deploys them: a model, a scoring script's code and an
environment, registered from the workspace by their content or named by reference."""
