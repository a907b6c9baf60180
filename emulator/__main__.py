"""python -m emulator up|down|status|env|serve"""

from __future__ import annotations

import argparse
import sys

from emulator import lifecycle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description="A local Azure (Entra ID, ARM + Azure ML, GitHub OIDC) for azureml-deploy.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("up", "start in the background; returns when every part is ready"),
        ("serve", "run in the foreground (what `up` starts)"),
        ("down", "stop everything `up` started"),
        ("status", "is it running, and where"),
        ("env", "print shell exports for the SDKs and the GitHub OIDC variables"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument(
            "--state-dir",
            help="where connection.json, keys and logs live "
            "(default: $AZUREML_EMULATOR_DIR or .emulator/)",
        )
        if name in ("up", "serve"):
            command.add_argument("--profile", choices=("fast", "azure"), default="fast")
            command.add_argument(
                "--time-scale",
                type=float,
                default=1.0,
                help="multiply provisioning times (azure profile: 0.05 makes 5 min 15 s)",
            )
            command.add_argument(
                "--data-plane",
                choices=("docker", "none"),
                default="docker",
                help="run deployments as containers (default), or only the control plane",
            )
            command.add_argument(
                "--storage",
                choices=("disk", "memory"),
                default="disk",
                help="keep the storage's blobs under the state directory (default), or in "
                "Azurite's memory, gone when it stops",
            )
    args = parser.parse_args(argv)
    directory = lifecycle.state_dir(args.state_dir)
    if args.command == "up":
        return lifecycle.up(
            directory, args.profile, args.time_scale, args.data_plane, storage=args.storage
        )
    if args.command == "serve":
        from emulator.server import Emulator

        Emulator(directory, args.profile, args.time_scale, args.data_plane, args.storage).serve()
        return 0
    if args.command == "down":
        return lifecycle.down(directory)
    if args.command == "status":
        return lifecycle.status(directory)
    return lifecycle.env(directory)


if __name__ == "__main__":
    sys.exit(main())
