//! Child processes a test starts, stopped however the test ends: a failed assertion unwinds
//! through the guard's `Drop`, which kills the process and reaps it, so no runner outlives the
//! test that started it.

use std::ops::{Deref, DerefMut};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A running child, killed (and waited for) when dropped.
pub struct Running(Option<Child>);

impl Running {
    /// Starts `cmd`; panics with the program's name when it cannot be started.
    pub fn spawn(cmd: &mut Command) -> Running {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {:?}: {e}", cmd.get_program()));
        Running(Some(child))
    }

    pub fn wrap(child: Child) -> Running {
        Running(Some(child))
    }

    /// Sends SIGINT (as Ctrl-C would) and waits up to `within` for the process to end: how
    /// long it took, or `None` (then it is killed).
    pub fn interrupt(mut self, within: Duration) -> Option<Duration> {
        let t = Instant::now();
        let child = self.0.as_mut()?;
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        while t.elapsed() < within {
            if child.try_wait().ok().flatten().is_some() {
                self.0 = None;
                return Some(t.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Hands the child over: the caller stops it.
    pub fn into_inner(mut self) -> Child {
        self.0.take().expect("the child is there until dropped")
    }
}

impl Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        self.0.as_ref().expect("the child is there until dropped")
    }
}

impl DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        self.0.as_mut().expect("the child is there until dropped")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
