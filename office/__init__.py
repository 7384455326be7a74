"""The street office (街道): the month's reports over every provider and circle, the audit trail, and
the accounts it manages (password resets, family links). A floor above dispatch: it reads the lower
domains' tables for reporting (as settlement does), and writes nothing of theirs."""
