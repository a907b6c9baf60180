"""A failed environment image build, as the deployment that needed it reports it."""

from __future__ import annotations

from dataclasses import dataclass

LOG_TAIL_LINES = 30


@dataclass(frozen=True)
class BuildLogLocation:
    """Where Azure ML writes an image's build log: the workspace's default storage account,
    blob container `azureml`, path `ImageLogs/<image id>/build.log`
    (how-to-troubleshoot-online-endpoints.md, "ERROR: ImageBuildFailure": "The build log is
    available in the workspace blob store ... under the path
    '/azureml/ImageLogs/your-image-id/build.log'. In this case, "azureml" is the name of the
    blob container")."""

    container: str
    path: str

    @classmethod
    def of(cls, image_id: str) -> BuildLogLocation:
        return cls("azureml", f"ImageLogs/{image_id}/build.log")


class EnvironmentBuildFailed(Exception):
    """The image of an environment could not be built (or pushed). Deployment creation turns
    it into Azure's `ImageBuildFailure` with `azure_message(storage_account)`."""

    code = "ImageBuildFailure"

    def __init__(self, reason: str, log: str, location: BuildLogLocation) -> None:
        self.reason = reason
        self.log = log  # the whole build log, to store at `location`
        self.location = location
        self.log_tail = "\n".join(log.rstrip("\n").splitlines()[-LOG_TAIL_LINES:])
        super().__init__(f"{reason}\n{self.log_tail}")

    def azure_message(self, storage_account: str) -> str:
        """The deployment's error message. The location's wording is the documented one
        (how-to-troubleshoot-online-endpoints.md, "ERROR: ImageBuildFailure": "the build log
        under the storage account '[storage-account-name]' in the container '[container-name]'
        at the path '[path-to-the-log]'"); the first sentence is the emulator's."""
        return (
            f"Image build failed: {self.reason}. For more details, check the build log under "
            f"the storage account '{storage_account}' in the container "
            f"'{self.location.container}' at the path '{self.location.path}'."
        )
