#!/usr/bin/env python3
"""The action's container runs this (action.yml's `entrypoint`): deployer/action.py."""

import sys

from deployer.action import main

sys.exit(main())
