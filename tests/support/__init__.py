"""Code the tests share and the product does not ship: fakes at the
boundaries, clients that speak only the contract, process and compose
harnesses. Imported as `tests.support.<module>`."""
