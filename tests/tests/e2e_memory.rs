//! The end-to-end suite on the in-memory stores and queue.

banter_e2e::e2e_suite!(banter_e2e::stack::Backend::Memory);
