-- 0012-message-recipients: the To: and Cc: of each message.
--
-- A rule may ask whether a series was sent to stable@ (the "stable"
-- condition: Cc: stable@vger.kernel.org in the mail's header is a fix
-- signal as much as the trailer). The decoded header values as written,
-- "" when the mail had none. Messages stored before this migration keep
-- NULL: the rules then read the header from the raw mail (raw.bytes).
ALTER TABLE message ADD COLUMN to_header TEXT;
ALTER TABLE message ADD COLUMN cc_header TEXT;
