"""Reading a prepared StaMPS dataset root (mt_prep layout) and its artifact catalogue."""
