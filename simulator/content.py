"""What leads read and write: site pages, questions, text replies, life events, opt-out words."""

from __future__ import annotations

from data_contracts.enums import QuestionTopic

PAGES: tuple[str, ...] = (
    "/rates",
    "/calculator",
    "/refinance",
    "/blog/first-time-buyer-guide",
    "/blog/how-much-house-can-i-afford",
    "/blog/rate-trends",
    "/blog/refinance-checklist",
    "/blog/down-payment-assistance",
    "/contact",
    "/pre-approval",
    "/documents",
    "/apply",
)
"""Site pages; the last three are what a lead close to applying reads."""

PAGE_BASE_WEIGHT: tuple[float, ...] = (3.0, 2.0, 0.6, 1.0, 1.0, 0.8, 0.5, 0.6, 0.4, 0.8, 0.3, 0.15)
PAGE_READINESS_SLOPE: tuple[float, ...] = (
    0.0,
    0.0,
    0.0,
    -0.6,
    -0.4,
    -0.3,
    0.0,
    -0.2,
    0.5,
    1.2,
    1.6,
    2.2,
)
"""How a page's share moves with readiness (log scale per unit of readiness probability x 3)."""

REFINANCE_PAGE_BOOST: dict[str, float] = {
    "/rates": 2.0,
    "/refinance": 6.0,
    "/blog/refinance-checklist": 5.0,
}
PURCHASE_ONLY_PAGES: frozenset[str] = frozenset(
    {
        "/blog/first-time-buyer-guide",
        "/blog/how-much-house-can-i-afford",
        "/blog/down-payment-assistance",
    }
)

EMAIL_CLICK_PAGES: tuple[str, ...] = ("/rates", "/pre-approval", "/blog/rate-trends", "/calculator")
"""Where our emails link to."""

QUESTION_TOPICS: tuple[QuestionTopic, ...] = tuple(QuestionTopic)

QUESTION_TEXTS: dict[QuestionTopic, tuple[str, ...]] = {
    QuestionTopic.RATES: (
        "What rate could I get?",
        "Are rates going down?",
        "Can I lock today's rate?",
        "What's the rate on a 30-year fixed right now?",
    ),
    QuestionTopic.DOCUMENTS: (
        "What documents do you need?",
        "Do you need my W-2s?",
        "How many bank statements should I send?",
        "Can I upload pay stubs online?",
    ),
    QuestionTopic.PRE_APPROVAL: (
        "How long does pre-approval take?",
        "Can I get pre-approved this week?",
        "Does a pre-approval hurt my credit?",
    ),
    QuestionTopic.CREDIT: (
        "Will my credit score qualify?",
        "Does one late payment matter?",
        "What score do I need?",
    ),
    QuestionTopic.DOWN_PAYMENT: (
        "How much do I need to put down?",
        "Can I use gift funds for the down payment?",
        "Are there down payment assistance programs?",
    ),
}

REPLIES_ENGAGED: tuple[str, ...] = (
    "Yes, still interested",
    "Call me tomorrow",
    "Sounds good",
    "Can you email me the details?",
    "Busy today, try me next week",
    "Thanks! What are the next steps?",
)
REPLIES_COOL: tuple[str, ...] = (
    "Not right now",
    "Maybe later this year",
    "Just looking for now, thanks",
    "Who is this?",
)

STATEMENTS_READY: tuple[str, ...] = (
    "We found a house",
    "Our offer was accepted",
    "We're ready to move forward",
    "My bonus came through",
    "We sold our house",
    "Lease is up soon, ready to start",
    "Can we start the pre-approval?",
)
STATEMENTS_NOT_READY: tuple[str, ...] = (
    "We decided to wait until next year",
    "Our lease got extended",
    "Still just looking",
    "Prices are too high right now",
    "Putting this on hold for a few months",
)
STATEMENTS_RATE_DROP: tuple[str, ...] = (
    "Saw rates dropped, is now a good time to refinance?",
    "Rates look good now, want to refinance",
)

TEXT_OPT_OUT_WORDS: tuple[str, ...] = (
    "STOP",
    "Stop",
    "UNSUBSCRIBE",
    "QUIT",
    "END",
    "CANCEL",
    "OPT OUT",
    "REVOKE",
)
EMAIL_OPT_OUT_TEXT = "unsubscribed via the email footer link"
CALL_OPT_OUT_TEXT = "asked on the phone to stop calling"
DNC_TEXT = "put me on your do not call list"
