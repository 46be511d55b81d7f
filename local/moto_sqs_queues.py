"""moto's SQS queues at one cheap pass over their messages per operation, however many are queued.

moto (5.x) reads single queue attributes while it sends a message (``ContentBasedDeduplication``,
three times per message) and while it receives one (``MessageRetentionPeriod``, three
times per message) through ``Queue.attributes``, which also counts the queue's messages
three times over (visible, delayed, in flight), each count a pass over every message that
reads the clock per message; a delete makes two passes, building a list of receipt handles
per message. With a backfill's 1,000 records queued, receiving and deleting one batch of
10 took 2.4 s, with 5,000 queued 11 s. ``LeanQueueScans``:

- answers those attribute reads, during a send or a receive only, with the one attribute
  asked for, computed as moto computes it;
- lists the visible messages with one clock reading for the whole pass;
- deletes in one pass, comparing receipt handles without building lists.

Everything else (FIFO deduplication, message groups, visibility, redrive) is moto's own.
Self-contained, so it can be offered to moto.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from moto.core.utils import camelcase_to_underscores, unix_time_millis
from moto.sqs.exceptions import ReceiptHandleIsInvalid
from moto.sqs.models import Message, Queue, SQSBackend

_sending = threading.local()


class _QueueAttribute:
    """``Queue.attributes`` as the send and receive paths read it: ``name in``, ``get(name)``; only what is asked is computed."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    def __contains__(self, name: object) -> bool:
        names = list(Queue.BASE_ATTRIBUTES)
        names += Queue.FIFO_ATTRIBUTES if self.queue.fifo_queue else []
        names += Queue.KMS_ATTRIBUTES if self.queue.kms_master_key_id else []  # type: ignore[attr-defined]
        return name in names

    def get(self, name: str, default: Any = None) -> Any:
        if name not in self:
            return default
        if name == "RedrivePolicy" and self.queue.redrive_policy:
            return json.dumps(self.queue.redrive_policy)
        value = getattr(self.queue, camelcase_to_underscores(name))
        return str(value).lower() if isinstance(value, bool) else value


class LeanQueueScans:
    """Installs the lean scans on moto's SQS queues (process-wide)."""

    # moto's own: kept to uninstall and to compare with
    moto_attributes = Queue.attributes
    moto_send_message = SQSBackend.send_message
    moto_send_message_batch = SQSBackend.send_message_batch
    moto_receive_message = SQSBackend.receive_message
    moto_messages = Queue.messages
    moto_delete_message = Queue.delete_message

    @classmethod
    def install(cls) -> None:
        Queue.attributes = property(cls.attributes)  # type: ignore[method-assign,assignment]
        Queue.messages = property(cls.messages)  # type: ignore[method-assign,assignment]
        Queue.delete_message = cls.delete_message  # type: ignore[method-assign,assignment]
        SQSBackend.send_message = cls.send_message  # type: ignore[method-assign,assignment]
        SQSBackend.send_message_batch = cls.send_message_batch  # type: ignore[method-assign,assignment]
        SQSBackend.receive_message = cls.receive_message  # type: ignore[method-assign,assignment]

    @classmethod
    def uninstall(cls) -> None:
        Queue.attributes = cls.moto_attributes  # type: ignore[method-assign]
        Queue.messages = cls.moto_messages  # type: ignore[method-assign]
        Queue.delete_message = cls.moto_delete_message  # type: ignore[method-assign]
        SQSBackend.send_message = cls.moto_send_message  # type: ignore[method-assign]
        SQSBackend.send_message_batch = cls.moto_send_message_batch  # type: ignore[method-assign]
        SQSBackend.receive_message = cls.moto_receive_message  # type: ignore[method-assign]

    @staticmethod
    def messages(queue: Queue) -> list[Message]:
        """The visible, undelayed messages, the clock read once (moto reads it twice per message)."""
        now = unix_time_millis()
        return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]

    @staticmethod
    def delete_message(queue: Queue, receipt_handle: str) -> None:
        """moto's delete in one pass: every message that ever had this receipt handle leaves the queue."""
        if receipt_handle in queue.deleted_messages:
            return  # already deleted: moto accepts it again
        kept: list[Message] = []
        deleted: list[Message] = []
        for message in queue._messages:
            had = message.receipt_handle == receipt_handle or receipt_handle in message._old_receipt_handles
            (deleted if had else kept).append(message)
        if not deleted:
            raise ReceiptHandleIsInvalid()
        for message in deleted:
            queue.pending_messages.discard(message)
            queue.deleted_messages.update(h for h in message.all_receipt_handles if h is not None)
        queue._messages = kept

    @staticmethod
    def attributes(queue: Queue) -> Any:
        if getattr(_sending, "depth", 0):
            return _QueueAttribute(queue)
        return LeanQueueScans.moto_attributes.fget(queue)  # type: ignore[attr-defined]

    @staticmethod
    def send_message(backend: SQSBackend, *args: Any, **kwargs: Any) -> Any:
        with _send():
            return LeanQueueScans.moto_send_message(backend, *args, **kwargs)

    @staticmethod
    def send_message_batch(backend: SQSBackend, *args: Any, **kwargs: Any) -> Any:
        with _send():
            return LeanQueueScans.moto_send_message_batch(backend, *args, **kwargs)

    @staticmethod
    def receive_message(backend: SQSBackend, *args: Any, **kwargs: Any) -> Any:
        with _send():
            return LeanQueueScans.moto_receive_message(backend, *args, **kwargs)


class _send:
    """Marks this thread as inside a send or receive (they may nest: a batch sends each message)."""

    def __enter__(self) -> None:
        _sending.depth = getattr(_sending, "depth", 0) + 1

    def __exit__(self, *_: object) -> None:
        _sending.depth -= 1
