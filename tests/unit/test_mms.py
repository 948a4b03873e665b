"""MMS that always arrives (seed 003): who takes MMS, the SMS with links for the others, media limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sms_consent import consent, segments
from sms_consent.config import load_config
from sms_consent.consent import NumberState, Status
from sms_consent.message_content import MMS_IMAGE_MAX_BYTES, MMS_MAX_BYTES, MMS_OTHER_MAX_BYTES, OPT_OUT_NOTICE
from sms_consent.messages import Category, OutboundRequest
from sms_consent.mms import Delivery, delivery_for, link_text, takes_mms
from sms_consent.phones import NumberType, PhoneInfo, parse
from sms_consent.ports import MediaFile, MediaReport
from sms_consent.send_gate import GateDecision, Reason, Situation, Verdict, decide
from sms_consent.settings import DEFAULT_PROGRAM_CONFIG

CONFIG = load_config(DEFAULT_PROGRAM_CONFIG)
# alerts may also reach the UK here, so that the country, not the allow-list, decides the delivery.
ABROAD = CONFIG.model_copy(
    update={
        "programs": {
            **CONFIG.programs,
            "alerts": CONFIG.programs["alerts"].model_copy(update={"allowed_countries": ("US", "CA", "GB")}),
        }
    }
)
NY = "+12125550123"  # NANP: libphonenumber says fixed_line_or_mobile
TORONTO = "+14165550123"
UK_MOBILE = "+447400123456"
AFTERNOON = datetime(2026, 11, 23, 15, 0, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
CAT = "s3://media/cat.jpg"
LINK = "https://media.example.com/cat.jpg"
JPEG = MediaReport(total_bytes=150_000, files=(MediaFile(CAT, "image/jpeg", 150_000),))


def subscribed(phone: str, *programs: str) -> NumberState:
    at = AFTERNOON - timedelta(days=40)
    return NumberState(
        phone=phone,
        programs={p: consent.ProgramState(Status.SUBSCRIBED, "keyword", at, at) for p in programs},
        optout_notice_at=dict.fromkeys(programs, AFTERNOON - timedelta(days=1)),  # no notice due
    )


def gate(
    phone: str,
    *,
    program: str = "alerts",
    body: str = "Example Corp Alerts: our new catalogue is out.",
    media: MediaReport = JPEG,
    media_urls: tuple[str, ...] = (CAT,),
    links: dict[str, str] | None = None,
    state: NumberState | None = None,
    config: object = ABROAD,
) -> GateDecision:
    request = OutboundRequest(
        program=program, category=Category.MARKETING, recipients=(phone,), body=body, media_urls=media_urls
    )
    number = state or subscribed(parse(phone).e164, program)
    situation = Situation({number.phone: number}, {}, media, AFTERNOON, links={CAT: LINK} if links is None else links)
    (decision,) = decide(request, config, situation)  # type: ignore[arg-type]
    return decision


# ---------------------------------------------------------------------- who takes MMS


def test_a_us_or_canadian_mobile_on_an_mms_sender_gets_mms_with_its_media() -> None:
    for phone in (NY, TORONTO):
        decision = gate(phone)
        assert (decision.decision, decision.reason, decision.delivery) == (Verdict.ALLOW, Reason.ALLOWED, Delivery.MMS)
        assert decision.body == "Example Corp Alerts: our new catalogue is out."  # the media goes as media
        assert decision.as_dict()["delivery"] == "mms"


def test_a_landline_cannot_take_mms() -> None:
    sender = CONFIG.sender("+18005550100")
    landline = PhoneInfo("+12125550199", "US", 1, NumberType.FIXED_LINE, ("America/New_York",))
    mobile = PhoneInfo("+12125550199", "US", 1, NumberType.MOBILE, ("America/New_York",))
    assert not takes_mms(landline)
    assert delivery_for(landline, sender, (CAT,)) is Delivery.SMS_LINK
    assert delivery_for(mobile, sender, (CAT,)) is Delivery.MMS
    toll_free = PhoneInfo("+18885550199", "US", 1, NumberType.TOLL_FREE, ())
    assert delivery_for(toll_free, sender, (CAT,)) is Delivery.SMS_LINK


def test_another_country_gets_an_sms_with_the_link() -> None:
    decision = gate(UK_MOBILE)
    assert parse(UK_MOBILE).number_type is NumberType.MOBILE  # a mobile: the country alone decides
    assert (decision.decision, decision.delivery) == (Verdict.ALLOW, Delivery.SMS_LINK)
    assert decision.body == f"Example Corp Alerts: our new catalogue is out. {LINK}"
    assert decision.as_dict()["delivery"] == "sms_link"


def test_a_sender_without_mms_sends_the_link() -> None:
    short_code = CONFIG.sender("12345")
    assert short_code is not None
    assert not short_code.mms
    decision = gate(NY, program="tone1", body="Polytone: new tones.")
    assert (decision.decision, decision.delivery, decision.body) == (
        Verdict.ALLOW,
        Delivery.SMS_LINK,
        f"Polytone: new tones. {LINK}",
    )


def test_more_files_than_one_mms_carries_go_as_links() -> None:
    dog = "s3://media/dog.png"
    media = MediaReport(300_000, files=(JPEG.files[0], MediaFile(dog, "image/png", 150_000)))
    decision = gate(NY, media=media, media_urls=(CAT, dog), links={CAT: LINK, dog: "https://m.example/dog.png"})
    assert decision.delivery is Delivery.SMS_LINK
    assert decision.body.endswith(f" {LINK} https://m.example/dog.png")


def test_no_media_is_plain_sms() -> None:
    decision = gate(NY, media=MediaReport(), media_urls=())
    assert (decision.reason, decision.delivery, decision.as_dict()["detail"]) == (Reason.ALLOWED, Delivery.SMS, None)


# ---------------------------------------------------------------------- the text fitted, the link whole


def test_a_long_text_is_cut_and_the_link_kept_whole() -> None:
    link = "https://media.example.com/campaigns/2026/11/catalogue-cover-" + "x" * 60 + ".jpg"
    body = "Example Corp Alerts: " + "our biggest sale of the year starts today, " * 30
    decision = gate(UK_MOBILE, body=body, links={CAT: link})
    assert decision.reason is Reason.ALLOWED
    assert decision.body.endswith(f"... {link}")
    counted = segments.analyze(decision.body)
    assert counted.segments == CONFIG.programs["alerts"].max_segments  # filled, not over
    assert decision.body.startswith("Example Corp Alerts: our biggest sale")


def test_a_ucs2_text_is_cut_at_whole_characters() -> None:
    body = "Example Corp Alerts 🎉 " + "¡Ofertas en tu tienda favorita! 🛍️ " * 20
    text = link_text(body, [LINK], 4, notice_due=False)
    assert text is not None
    assert text.endswith(f"... {LINK}")
    assert segments.analyze(text).segments <= 4
    cut = text.removesuffix(f"... {LINK}")
    assert body.startswith(cut)
    assert segments.graphemes(cut) == segments.graphemes(body)[: len(segments.graphemes(cut))]


def test_due_opt_out_instructions_survive_the_cut() -> None:
    body = "Example Corp Alerts: " + "our biggest sale of the year starts today, " * 30
    fresh = subscribed(parse(UK_MOBILE).e164, "alerts")
    fresh = NumberState(phone=fresh.phone, programs=fresh.programs)  # never told how to opt out
    decision = gate(UK_MOBILE, body=body, state=fresh)
    assert decision.notice
    assert decision.body.endswith(f"... {LINK} {OPT_OUT_NOTICE}")
    assert segments.analyze(decision.body).segments <= CONFIG.programs["alerts"].max_segments
    # Instructions the text carries itself are kept when it is not cut, and the notice added when it is.
    assert link_text("Sale! Reply STOP to end", [LINK], 4, notice_due=True) == f"Sale! Reply STOP to end {LINK}"
    cut = link_text("x" * 600 + " Reply STOP to end", [LINK], 4, notice_due=True)
    assert cut is not None
    assert cut.endswith(f"... {LINK} {OPT_OUT_NOTICE}")


def test_links_that_do_not_fit_are_message_invalid_naming_the_link() -> None:
    presigned = "https://media.s3.amazonaws.com/cat.jpg?X-Amz-Security-Token=" + "t" * 1000
    decision = gate(UK_MOBILE, links={CAT: presigned})
    assert (decision.decision, decision.reason) == (Verdict.DENY, Reason.MESSAGE_INVALID)
    assert decision.detail is not None
    assert decision.detail.startswith("link: ")
    assert "media domain" in decision.detail
    assert decision.as_dict()["detail"] == decision.detail


def test_without_a_link_for_the_media_nothing_is_sent() -> None:
    decision = gate(UK_MOBILE, links={})
    assert decision.reason is Reason.MESSAGE_INVALID
    assert decision.detail == f"link: no link can be made for {CAT}"


# ---------------------------------------------------------------------- media limits


@pytest.mark.parametrize(
    ("files", "detail"),
    [
        ((MediaFile(CAT, "image/bmp", 1000),), f"type: {CAT} is image/bmp, not a type MMS carries"),
        ((MediaFile(CAT, "", 1000),), f"type: {CAT} is of no type, not a type MMS carries"),
        (
            (MediaFile(CAT, "image/jpeg", MMS_IMAGE_MAX_BYTES + 1),),
            f"per file: {CAT} is {MMS_IMAGE_MAX_BYTES + 1} bytes, over {MMS_IMAGE_MAX_BYTES} for image/jpeg",
        ),
        (
            (MediaFile(CAT, "video/mp4", MMS_OTHER_MAX_BYTES + 1),),
            f"per file: {CAT} is {MMS_OTHER_MAX_BYTES + 1} bytes, over {MMS_OTHER_MAX_BYTES} for video/mp4",
        ),
        (
            tuple(MediaFile(f"s3://media/{i}.jpg", "image/jpeg", 1_900_000) for i in range(3)),
            f"total: media and text are {3 * 1_900_000 + 46} bytes, over {MMS_MAX_BYTES} for one MMS",
        ),
    ],
)
def test_each_media_limit_is_named_in_the_detail(files: tuple[MediaFile, ...], detail: str) -> None:
    media = MediaReport(sum(f.size for f in files), files=files)
    urls = tuple(f.url for f in files)
    links = dict.fromkeys(urls, LINK)
    for phone in (NY, UK_MOBILE):  # the same request is invalid whoever receives it, MMS or link
        decision = gate(phone, media=media, media_urls=urls, links=links)
        assert (decision.decision, decision.reason, decision.detail) == (Verdict.DENY, Reason.MESSAGE_INVALID, detail)


def test_within_every_limit_is_allowed() -> None:
    largest = MediaReport(MMS_IMAGE_MAX_BYTES, files=(MediaFile(CAT, "image/png", MMS_IMAGE_MAX_BYTES),))
    assert gate(NY, media=largest).reason is Reason.ALLOWED
    pdf = MediaReport(MMS_OTHER_MAX_BYTES, files=(MediaFile(CAT, "application/pdf", MMS_OTHER_MAX_BYTES),))
    assert gate(NY, media=pdf).reason is Reason.ALLOWED


def test_an_unreadable_file_is_named() -> None:
    media = MediaReport(problems=(f"{CAT}: 404",))
    decision = gate(NY, media=media)
    assert (decision.reason, decision.detail) == (Reason.MESSAGE_INVALID, f"media: {CAT}: 404")


def test_a_text_over_the_segments_is_named() -> None:
    decision = gate(NY, body="x" * 1000, media=MediaReport(), media_urls=())
    assert (decision.reason, decision.detail) == (Reason.MESSAGE_INVALID, "segments: 7, over the program's 4")
