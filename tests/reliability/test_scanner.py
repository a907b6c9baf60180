import base64
import json
import urllib.parse
from pathlib import Path

import pytest

from tools.reliability.scanner import scan

SECRET = "k3y-With/Plus+And=Equals_0123456789"


@pytest.mark.parametrize(
    "text",
    [
        f"key is {SECRET}.",
        json.dumps({"key": SECRET}),
        "?key=" + urllib.parse.quote(SECRET, safe=""),
        "key=" + urllib.parse.quote_plus(SECRET),
        *(
            base64.b64encode(prefix.encode() + SECRET.encode() + b"tail").decode()
            for prefix in ("", "a", "ab", "abc")
        ),
    ],
)
def test_every_encoding_of_a_secret_is_found(text: str) -> None:
    findings = scan([SECRET], {"log": text}, [])
    assert len(findings.leaks) >= 1
    assert SECRET not in "".join(findings.leaks)  # the report never repeats the secret


def test_masked_text_and_files_pass(tmp_path: Path) -> None:
    (tmp_path / "summary.md").write_text("key: ***\n")
    (tmp_path / "leak.txt").write_text(f"oops {SECRET}\n")
    findings = scan([SECRET], {"log": "primary-key: ***"}, [tmp_path])
    assert findings.places == 3
    assert findings.leaks == [f"secret #1 (raw) in {tmp_path / 'leak.txt'} at character 5"]
