"""The commands, one module each (wiring only), and the one table of them that the command
line (cli.py) and the action's inputs (action.py) both read."""

COMMANDS = {
    "validate": "check the deploy file offline (no credentials needed)",
    "plan": "show what deploy would change, and change nothing",
    "deploy": "build, push and roll out to the endpoint",
    "delete": "delete this pull request's preview endpoints (found by their tags)",
    "cleanup": "delete previews past their ttl_hours, or of closed pull requests",
    "rollback": "send all traffic back to the deployment kept by keep_previous",
    "promote": "continue a canary rollout left at a step",
    "abort": "stop a rollout: all traffic to the known-good deployment",
    "import": "write a deploy file that says what az ml endpoint and deployment files say",
}
CHANGES_AN_ENDPOINT = ("deploy", "rollback", "promote", "abort")
BUILDS_AN_IMAGE = ("deploy", "plan")  # take --image-tag, --image, --build-arg
