"""Delivering outbox events: EventBridge, signed HTTP subscribers, WeCom / DingTalk group robots."""
