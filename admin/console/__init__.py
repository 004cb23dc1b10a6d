"""The server-rendered console for the whole product: usage charts (`usage`), keys and
signed-in devices (`keys`), Forge leases (`leases`), Vault racks (`racks`) and fine-tuning
jobs (`jobs`), each page framed by `layout` and charted by `charts` as inline SVG, plus the
device verification page where a signed-in admin approves a CLI (`device`). It renders pages;
the session and the device flow behind them are sign-in's (`admin.signin`), the data the
products' own functions, read for the session's org only."""
