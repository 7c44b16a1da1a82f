// An answer function that takes the method's arguments wrongly: `read` takes one
// parameter, so the answer takes the double and one more.
#[steadfast::interface]
trait Files {
    fn read(&self, path: &str) -> Option<String>;
}

fn main() {
    let _files = FilesDouble::new([FilesApi::READ
        .each_call()
        .answers(&|_, path, extra: u32| Some(format!("{path}{extra}")))]);
}
