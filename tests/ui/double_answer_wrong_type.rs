// An answer function that returns another type than the method.
#[steadfast::interface]
trait Files {
    fn read(&self, path: &str) -> Option<String>;
}

fn main() {
    let _files = FilesDouble::new([FilesApi::READ.each_call().answers(&|_, path| path.len())]);
}
