//! The few XML documents of the S3 API this front-end writes, with escaping in one place.

use std::fmt::Write;

/// An XML document built element by element.
pub(crate) struct Doc(String);

impl Doc {
    pub(crate) fn new(root: &str) -> Self {
        Self(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        ))
    }

    /// A document whose root has no namespace (`Error`).
    pub(crate) fn bare(root: &str) -> Self {
        Self(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root}>"
        ))
    }

    pub(crate) fn open(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.0, "<{name}>");
        self
    }

    pub(crate) fn close(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.0, "</{name}>");
        self
    }

    pub(crate) fn text(&mut self, name: &str, value: &str) -> &mut Self {
        let _ = write!(
            self.0,
            "<{name}>{}</{name}>",
            quick_xml::escape::escape(value)
        );
        self
    }

    pub(crate) fn finish(mut self, root: &str) -> String {
        let _ = write!(self.0, "</{root}>");
        self.0
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_is_escaped() {
        let mut d = super::Doc::bare("Error");
        d.text("Key", "a<b>&\"c");
        let s = d.finish("Error");
        assert!(
            s.ends_with("<Key>a&lt;b&gt;&amp;&quot;c</Key></Error>"),
            "{s}"
        );
    }
}
