"""The operation log (操作日志): who changed what, when; tamper-evident by a hash chain."""
