"""E-mail backends for the reminder tests."""

import smtplib

from django.core.mail.backends.locmem import EmailBackend

REFUSED_DOMAIN = "@refused.example"


class RefusingEmailBackend(EmailBackend):
    """The locmem backend, except that the SMTP server refuses any address at REFUSED_DOMAIN."""

    def send_messages(self, messages):
        for message in messages:
            refused = {address: (550, b"mailbox unavailable") for address in message.recipients() if address.endswith(REFUSED_DOMAIN)}
            if refused:
                raise smtplib.SMTPRecipientsRefused(refused)
        return super().send_messages(messages)
