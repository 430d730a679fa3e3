"""The compiled contracts in the repository are exactly what the sources compile to."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from kassa.chains.contracts import BUILD_DIR

ROOT = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = ROOT / "src" / "kassa" / "chains" / "contracts" / "build.js"


def test_artifacts_match_a_fresh_build(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node is not None, "node is needed to rebuild the contracts (make test installs the tools)"
    # Build into a copy of the contracts folder, so the committed artifacts are only read.
    work = tmp_path / "contracts"
    shutil.copytree(BUILD_SCRIPT.parent, work, ignore=shutil.ignore_patterns("build"))
    script = work / "build.js"
    script.write_text(
        script.read_text().replace(
            'path.join(__dirname, "../../../../tools/node_modules/solc")',
            json.dumps(str(ROOT / "tools" / "node_modules" / "solc")),
        ),
        encoding="utf-8",
    )
    subprocess.run([node, str(script)], check=True, capture_output=True, timeout=300)
    committed = sorted(p.name for p in BUILD_DIR.glob("*.json"))
    rebuilt = sorted(p.name for p in (work / "build").glob("*.json"))
    assert (
        committed
        == rebuilt
        == ["KassaForwarder.json", "KassaForwarderFactory.json", "TestPriceFeed.json", "TestStablecoin.json"]
    )
    for name in committed:
        assert json.loads((BUILD_DIR / name).read_text()) == json.loads((work / "build" / name).read_text()), name
