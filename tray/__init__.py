"""The tray process: a pystray icon that supervises the daemon and toggles shadow/live."""
