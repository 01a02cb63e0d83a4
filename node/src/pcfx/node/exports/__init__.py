"""Declarations in the formats others require: `battery_passport` turns a verified own declaration of a
battery into the EU carbon-footprint declaration shaped as the BatteryPass aspect; `source` reads and verifies
the declaration and finds the stored result it declared."""
