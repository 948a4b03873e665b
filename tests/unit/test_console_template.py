"""The operator console's deployment in template.yaml (DeployConsole=true): a private bucket that only
its CloudFront distribution reads, and a distribution that serves the console and forwards /v1/* to
this stack's API uncached, so that the console calls the API on its own origin with no CORS and no
key in any cache. Off by default: a stack without it creates none of it."""

from __future__ import annotations

from pathlib import Path

from sms_consent_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ("ConsoleBucket", "ConsoleOriginAccessControl", "ConsoleDistribution", "ConsoleBucketPolicy")
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"


def test_the_console_is_off_by_default() -> None:
    template = load_template(ROOT / "template.yaml")
    assert [name for name in CONSOLE if template.is_created(name)] == []


def test_the_distribution_serves_the_console_and_forwards_the_api_uncached() -> None:
    template = load_template(ROOT / "template.yaml", parameter_overrides={"DeployConsole": "true"})
    assert all(template.is_created(name) for name in CONSOLE)
    config = template.resources["ConsoleDistribution"]["Properties"]["DistributionConfig"]
    origins = {origin["Id"]: origin for origin in config["Origins"]}

    assert config["DefaultCacheBehavior"]["TargetOriginId"] == "console"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    (api,) = config["CacheBehaviors"]
    assert (api["PathPattern"], api["TargetOriginId"], api["CachePolicyId"]) == ("/v1/*", "api", CACHING_DISABLED)
    assert {"PUT", "POST", "DELETE"} <= set(api["AllowedMethods"])
    assert "ConsentApi" in str(origins["api"]["DomainName"])
    assert origins["api"]["OriginPath"] == {"Fn::Sub": "/${Stage}"}
    assert origins["console"]["OriginAccessControlId"] == {"Fn::GetAtt": ["ConsoleOriginAccessControl", "Id"]}


def test_only_the_distribution_reads_the_private_bucket() -> None:
    template = load_template(ROOT / "template.yaml", parameter_overrides={"DeployConsole": "true"})
    block = template.resources["ConsoleBucket"]["Properties"]["PublicAccessBlockConfiguration"]
    statements = template.resources["ConsoleBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (read,) = [statement for statement in statements if statement["Effect"] == "Allow"]

    assert all(block.values())
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert read["Action"] == "s3:GetObject"
    assert "${ConsoleDistribution}" in str(read["Condition"]["StringEquals"]["AWS:SourceArn"])


def test_the_files_the_readme_says_to_upload_are_the_console() -> None:
    folder = ROOT / "web" / "console"
    assert {path.name for path in folder.iterdir()} == {"index.html", "console.js", "console.css"}
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert 'src="console.js"' in page  # relative: the same files work at / on CloudFront and /console/ locally
    assert 'href="console.css"' in page
