"""The customer page's words, in simplified Chinese and English; the browser's language picks one."""

from __future__ import annotations

LANGUAGES = ("zh-CN", "en")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your data with us",
        "intro": "Which kinds of your data we hold, how often they were used in the last 90 days, why, and where they came from. "
        "You decide, per kind, whether we may use it; a change takes effect at once.",
        "granted": "Allowed",
        "not_granted": "Not allowed",
        "by_default": "by default",
        "your_choice": "your choice of {at}",
        "changed_by": "changed on {at}",
        "held": "Held now",
        "held_none": "nothing of this kind is held",
        "uses": "Used in the last 90 days",
        "times": "{n} times",
        "last_used": "last on {at}",
        "purposes": "For what",
        "rules": "By which rule",
        "systems": "From which systems",
        "dropped": "Not stored for lack of your consent: {n} times",
        "none": "—",
        "revoke": "Stop using it",
        "grant": "Allow it",
        "saved_revoked": "Saved: we no longer use “{category}”; what we held of it has been removed.",
        "saved_granted": "Saved: we may use “{category}” again.",
        "expires": "This link is valid until {at}.",
        "refused_title": "This link cannot be used",
        "refused_body": "The link is not valid or has expired. Please ask the company that sent it for a new one.",
        "error_title": "Something went wrong",
        "language": "中文",
        "purpose.master_data": "Keeping your customer record up to date",
        "purpose.event": "Alert: {event}",
        "customer_choice": "customer's choice on the data-usage page",
    },
    "zh-CN": {
        "title": "您在我们这里的数据",
        "intro": "我们持有您哪些类别的数据、过去 90 天使用了多少次、用于什么目的、来自哪些系统。"
        "每一类数据是否允许使用，由您决定；更改立即生效。",
        "granted": "已授权",
        "not_granted": "未授权",
        "by_default": "默认",
        "your_choice": "您于 {at} 的选择",
        "changed_by": "于 {at} 更改",
        "held": "当前持有",
        "held_none": "未持有此类数据",
        "uses": "过去 90 天使用次数",
        "times": "{n} 次",
        "last_used": "最近一次：{at}",
        "purposes": "用途",
        "rules": "依据的规则",
        "systems": "数据来源系统",
        "dropped": "因未获授权而未存储：{n} 次",
        "none": "—",
        "revoke": "停止使用",
        "grant": "允许使用",
        "saved_revoked": "已保存：我们不再使用“{category}”，已持有的此类数据已删除。",
        "saved_granted": "已保存：我们可以再次使用“{category}”。",
        "expires": "此链接有效期至 {at}。",
        "refused_title": "此链接无法使用",
        "refused_body": "链接无效或已过期。请联系发送链接的公司索取新链接。",
        "error_title": "出现错误",
        "language": "English",
        "purpose.master_data": "维护您的客户档案",
        "purpose.event": "预警：{event}",
        "customer_choice": "客户在数据使用看板上的选择",
    },
}

CATEGORIES: dict[str, dict[str, tuple[str, str]]] = {
    # category: language: (name, what it covers)
    "contact_personal": {
        "en": ("Contact details", "names, e-mail addresses and phone numbers of people"),
        "zh-CN": ("联系方式", "联系人的姓名、电子邮箱、电话"),
    },
    "inquiry": {"en": ("Inquiries", "what you asked us"), "zh-CN": ("咨询内容", "您向我们咨询的内容")},
    "meeting_recording": {
        "en": ("Meeting recordings", "notes, recordings and transcripts of meetings"),
        "zh-CN": ("会议录音", "会议记录、录音与文字稿"),
    },
    "trial_behaviour": {"en": ("Trial behaviour", "how you used a product trial"), "zh-CN": ("试用行为", "您试用产品的使用情况")},
    "commercial": {"en": ("Commercial", "prices, orders, grades and credit"), "zh-CN": ("商务信息", "价格、订单、客户等级与信用额度")},
    "location": {"en": ("Location", "addresses"), "zh-CN": ("位置信息", "地址")},
}

EVENTS: dict[str, dict[str, str]] = {
    "customer.grade_changed": {"en": "customer grade changed", "zh-CN": "客户等级变更"},
    "order.anomaly_detected": {"en": "unusual order", "zh-CN": "订单异常预警"},
    "rebate.deviation_detected": {"en": "rebate settlement deviation", "zh-CN": "返利结算偏差"},
    "rebate.deviation_resolved": {"en": "rebate settlement deviation resolved", "zh-CN": "返利结算偏差已解决"},
}


def negotiate(accept_language: str | None, chosen: str | None = None) -> str:
    """``chosen`` (the page's language switch) wins; else the browser's first supported language; else English."""
    if chosen in LANGUAGES:
        return str(chosen)
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, index, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return "en"


def category_name(category: str, lang: str) -> str:
    return CATEGORIES.get(category, {}).get(lang, (category, ""))[0]


def purpose_text(purpose: str, lang: str) -> str:
    if purpose == "master_data":
        return TEXT[lang]["purpose.master_data"]
    if purpose.startswith("event:"):
        event = purpose.removeprefix("event:")
        return TEXT[lang]["purpose.event"].format(event=EVENTS.get(event, {}).get(lang, event))
    return purpose
