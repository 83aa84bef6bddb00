//! Error frames in words: the kernel's error classes (`linux/can/error.h`) and
//! the detail bytes, decoded into one readable line for the logger and viewer.

use super::Frame;

/// Error class bits of an error frame's id (`linux/can/error.h`).
pub mod class {
    /// TX timeout (by netdevice driver).
    pub const TX_TIMEOUT: u32 = 0x001;
    /// Lost arbitration; data\[0\] the bit position.
    pub const LOSTARB: u32 = 0x002;
    /// Controller problems; data\[1\].
    pub const CRTL: u32 = 0x004;
    /// Protocol violations; data\[2\] type, data\[3\] location.
    pub const PROT: u32 = 0x008;
    /// Transceiver status; data\[4\].
    pub const TRX: u32 = 0x010;
    /// No ACK on transmission.
    pub const ACK: u32 = 0x020;
    /// Bus off.
    pub const BUSOFF: u32 = 0x040;
    /// Bus error.
    pub const BUSERROR: u32 = 0x080;
    /// Controller restarted.
    pub const RESTARTED: u32 = 0x100;
    /// TX/RX error counters in data\[6\] and data\[7\].
    pub const CNT: u32 = 0x200;
}

/// Protocol error types in data\[2\] of a [`class::PROT`] error frame.
pub mod prot {
    /// Single bit error.
    pub const BIT: u8 = 0x01;
    /// Frame format error.
    pub const FORM: u8 = 0x02;
    /// Bit stuffing error.
    pub const STUFF: u8 = 0x04;
    /// Unable to send a dominant bit.
    pub const BIT0: u8 = 0x08;
    /// Unable to send a recessive bit.
    pub const BIT1: u8 = 0x10;
    /// Bus overload.
    pub const OVERLOAD: u8 = 0x20;
    /// Active error announcement.
    pub const ACTIVE: u8 = 0x40;
    /// Error occurred on transmission.
    pub const TX: u8 = 0x80;
}

/// A one-line English description of an error frame (classes and details as in
/// `linux/can/error.h`), e.g. `bus-off`, `no ACK on transmission`,
/// `controller: RX error passive; counters TX 0 RX 135`. Not an error frame: "".
pub fn describe_error(frame: &Frame) -> String {
    if !frame.is_error() {
        return String::new();
    }
    let class = frame.id().raw();
    let d = |i: usize| frame.data_bytes().get(i).copied().unwrap_or(0);
    let mut parts: Vec<String> = Vec::new();
    if class & class::TX_TIMEOUT != 0 {
        parts.push("TX timeout".into());
    }
    if class & class::LOSTARB != 0 {
        parts.push(match d(0) {
            0 => "lost arbitration".into(),
            b => format!("lost arbitration at bit {b}"),
        });
    }
    if class & class::CRTL != 0 {
        let names = [
            (0x01, "RX buffer overflow"),
            (0x02, "TX buffer overflow"),
            (0x04, "RX error warning"),
            (0x08, "TX error warning"),
            (0x10, "RX error passive"),
            (0x20, "TX error passive"),
            (0x40, "back to error active"),
        ];
        parts.push(format!("controller: {}", bits(d(1), &names)));
    }
    if class & class::PROT != 0 {
        let types = [
            (prot::BIT, "bit error"),
            (prot::FORM, "form error"),
            (prot::STUFF, "stuff error"),
            (prot::BIT0, "could not send dominant bit"),
            (prot::BIT1, "could not send recessive bit"),
            (prot::OVERLOAD, "bus overload"),
            (prot::ACTIVE, "active error announcement"),
            (prot::TX, "error on transmission"),
        ];
        let mut s = format!("protocol: {}", bits(d(2), &types));
        if let Some(loc) = location(d(3)) {
            s.push_str(" in ");
            s.push_str(loc);
        }
        parts.push(s);
    }
    if class & class::TRX != 0 {
        let t = d(4);
        let wire = |n: u8| match n {
            4 => "no wire",
            5 => "short to BAT",
            6 => "short to VCC",
            7 => "short to GND",
            _ => "unspecified",
        };
        let mut s = Vec::new();
        if t & 0x0F != 0 {
            s.push(format!("CANH {}", wire(t & 0x0F)));
        }
        if t == 0x80 {
            s.push("CANL short to CANH".into());
        } else if t & 0x70 != 0 {
            s.push(format!("CANL {}", wire((t >> 4) & 0x07)));
        }
        if s.is_empty() {
            s.push("unspecified".into());
        }
        parts.push(format!("transceiver: {}", s.join(", ")));
    }
    if class & class::ACK != 0 {
        parts.push("no ACK on transmission".into());
    }
    if class & class::BUSOFF != 0 {
        parts.push("bus-off".into());
    }
    if class & class::BUSERROR != 0 {
        parts.push("bus error".into());
    }
    if class & class::RESTARTED != 0 {
        parts.push("controller restarted".into());
    }
    if class & class::CNT != 0 {
        parts.push(format!("counters TX {} RX {}", d(6), d(7)));
    }
    if class & !0x3FF != 0 {
        parts.push(format!("unknown class bits 0x{:X}", class & !0x3FF));
    }
    if parts.is_empty() {
        "error frame without class".into()
    } else {
        parts.join("; ")
    }
}

fn bits(value: u8, names: &[(u8, &str)]) -> String {
    let mut out: Vec<&str> = names
        .iter()
        .filter(|(b, _)| value & b != 0)
        .map(|&(_, n)| n)
        .collect();
    if out.is_empty() {
        out.push("unspecified");
    }
    out.join(", ")
}

fn location(code: u8) -> Option<&'static str> {
    Some(match code {
        0x03 => "start of frame",
        0x02 => "ID bits 28-21",
        0x06 => "ID bits 20-18",
        0x04 => "SRTR bit",
        0x05 => "IDE bit",
        0x07 => "ID bits 17-13",
        0x0F => "ID bits 12-5",
        0x0E => "ID bits 4-0",
        0x0C => "RTR bit",
        0x0D => "reserved bit 1",
        0x09 => "reserved bit 0",
        0x0B => "DLC",
        0x0A => "data field",
        0x08 => "CRC sequence",
        0x18 => "CRC delimiter",
        0x19 => "ACK slot",
        0x1B => "ACK delimiter",
        0x1A => "end of frame",
        0x12 => "intermission",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::text::parse_frame;

    #[test]
    fn classes_and_details_read_as_words() {
        let d = |s: &str| describe_error(&parse_frame(s).unwrap());
        assert_eq!(d("20000040#0000000000000000"), "bus-off");
        assert_eq!(d("20000020#0000000000000000"), "no ACK on transmission");
        assert_eq!(
            d("20000204#0010000000000087"),
            "controller: RX error passive; counters TX 0 RX 135"
        );
        assert_eq!(d("123#11"), "");
    }
}
