"""The main screen's panes (one module each) and the small widgets they share."""
