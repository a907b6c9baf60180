"""Everything this process changes for the SDKs it uses, in one explicit call: environment
variables they read, and the two places where azure-ai-ml's own behaviour does not fit an action's
log. `configure_sdk(cloud)` runs once per process, before azure-ai-ml is imported."""

from __future__ import annotations

import logging
import os

from deployer.cloud import PUBLIC, Cloud

# The SDK's own polling interval, which deployer.azure.operation.PollPacer replaces between
# polls; it still names the wait of an SDK poller that runs before configure_sdk.
POLL_SECONDS = 1
_configured: set[str] = set()


def configure_sdk(cloud: Cloud) -> None:
    """- REQUESTS_CA_BUNDLE: the emulator's CA (`--cloud local`), for the SDK and every request
      this process makes; HTTPS_PROXY/NO_PROXY: the emulator's storage proxy, for the blob
      names of its storage;
    - AZUREML_CURRENT_CLOUD: azure-ai-ml reads it while it is imported (for class defaults) and
      fails on a cloud it does not know yet, e.g. one a notebook or another tool registered in
      its own process; it is imported with the cloud this run uses (MLClient registers a custom
      one);
    - the SDK's polling: it prints a dot to stdout on every poll, from a background thread, and
      its interval is a constant per operation; the wait between polls is the one pacer's
      (deployer.azure.operation);
    - the SDK's loggers: routed to the root logger (Runner.capture_logging)."""
    if cloud.ca_bundle:
        os.environ["REQUESTS_CA_BUNDLE"] = cloud.ca_bundle
    if cloud.local is not None and cloud.local.storage_proxy:
        # Only the storage's blob names go through the emulator's proxy; everything it serves
        # on 127.0.0.1 and the scoring gateway's names go direct.
        os.environ["HTTPS_PROXY"] = cloud.local.storage_proxy
        os.environ["NO_PROXY"] = "127.0.0.1,inference.localhost"
    os.environ["AZUREML_CURRENT_CLOUD"] = cloud.name if cloud.name in PUBLIC else "AzureCloud"
    if "sdk" in _configured:
        return
    _configured.add("sdk")
    _quiet_polling()
    _route_logging()


def _quiet_polling() -> None:
    from azure.ai.ml._utils import _azureml_polling
    from azure.ai.ml.constants._common import LROConfigurations
    from azure.core.polling.base_polling import LROBasePolling
    from azure.mgmt.core.polling.arm_polling import ARMPolling

    from deployer.azure.operation import paced_delay, throttle_tolerant

    update_status = throttle_tolerant(ARMPolling.update_status)
    _azureml_polling.AzureMLPolling.update_status = update_status  # type: ignore[method-assign]
    LROBasePolling.update_status = update_status  # type: ignore[method-assign,assignment]
    LROConfigurations.POLL_INTERVAL = POLL_SECONDS
    LROBasePolling._delay = paced_delay  # type: ignore[method-assign,assignment]


def _route_logging() -> None:
    """azure-ai-ml gives its own loggers a stream handler to stderr at INFO ("Check: endpoint x
    exists"), and stops them propagating (`_logger_utils.initialize_logger_info`, called as its
    modules are imported). Their records go to the root logger instead, where the runner's
    handler scrubs and neutralises them: warnings only, unless RUNNER_DEBUG asked for all."""
    from azure.ai.ml._utils import _logger_utils

    def route(logger: logging.Logger, terminator: str = "\n") -> None:
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler:
                logger.removeHandler(handler)
        debug = logging.getLogger().level == logging.DEBUG
        logger.setLevel(logging.DEBUG if debug else logging.WARNING)
        logger.propagate = True

    _logger_utils.initialize_logger_info = route  # type: ignore[assignment]
    # Its note that a class is experimental (DataCollector, which deployment.data_collector is
    # sent as) is about the SDK, not the deployment: not a warning of the run's.
    logging.getLogger("azure.ai.ml._utils._experimental").addFilter(lambda _record: False)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if name.startswith("azure.ai.ml") and isinstance(logger, logging.Logger):
            route(logger)
