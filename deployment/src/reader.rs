//! The one pass over the long-form document that builds a [`Deployment`]; each part of the
//! model reads its resources in its own module.

use crate::Deployment;
use crate::document::Document;

/// Reads the parts of the model into `out`, collecting what it cannot understand.
pub(crate) struct Reader<'d> {
    pub(crate) doc: &'d Document<'d>,
    pub(crate) out: Deployment,
}

impl<'d> Reader<'d> {
    pub(crate) fn read(doc: &'d Document<'d>) -> Deployment {
        let mut reader = Self {
            doc,
            out: Deployment {
                document: doc.root().clone(),
                parameters: doc.parameter_defaults(),
                ..Deployment::default()
            },
        };
        reader.read_functions();
        reader.read_queues();
        reader.read_apis();
        reader.read_event_source_mappings();
        reader.read_tables();
        reader.out
    }

    pub(crate) fn problem(&mut self, p: String) {
        self.out.problems.push(p);
    }
}
