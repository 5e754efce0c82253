"""Messaging: the core every area sends through, and the Twilio webhooks' logic.

- ``outbound.queue_one(...)`` — one rendered message (reply, notification), sent after the commit.
- ``send.queue_messages(ids, queue)`` — enqueue send jobs for materialised messages (bulk fan-out).
- ``send.send_batch(ids)`` / ``send.reconcile_stuck()`` — the job cores (RQ wrappers in ``jobs``).
- ``hooks.register_renderer`` / ``hooks.register_source_guard`` / ``hooks.stop_source`` — plug-ins.
- ``status`` — the guarded state machine of ``Message.status``; ``errors`` — provider codes by table.
- ``channels`` — adapters (Twilio SMS/WhatsApp, SMTP, console) behind ``channels.base.ChannelAdapter``.
- ``ratelimit`` — the Redis segment limiter shared by all workers; ``segments`` — SMS segment counts.
- ``inbound`` — the inbound router; ``keywords`` — STOP/START; ``optouts`` — opt-outs by address.
"""
