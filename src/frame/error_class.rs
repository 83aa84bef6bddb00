//! Error frames in words: the kernel's error classes (`linux/can/error.h`) and
//! the detail bytes, decoded into one readable line for the logger and viewer.

use super::Frame;

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
    if class & 0x001 != 0 {
        parts.push("TX timeout".into());
    }
    if class & 0x002 != 0 {
        parts.push(match d(0) {
            0 => "lost arbitration".into(),
            b => format!("lost arbitration at bit {b}"),
        });
    }
    if class & 0x004 != 0 {
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
    if class & 0x008 != 0 {
        let types = [
            (0x01, "bit error"),
            (0x02, "form error"),
            (0x04, "stuff error"),
            (0x08, "could not send dominant bit"),
            (0x10, "could not send recessive bit"),
            (0x20, "bus overload"),
            (0x40, "active error announcement"),
            (0x80, "error on transmission"),
        ];
        let mut s = format!("protocol: {}", bits(d(2), &types));
        if let Some(loc) = location(d(3)) {
            s.push_str(" in ");
            s.push_str(loc);
        }
        parts.push(s);
    }
    if class & 0x010 != 0 {
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
    if class & 0x020 != 0 {
        parts.push("no ACK on transmission".into());
    }
    if class & 0x040 != 0 {
        parts.push("bus-off".into());
    }
    if class & 0x080 != 0 {
        parts.push("bus error".into());
    }
    if class & 0x100 != 0 {
        parts.push("controller restarted".into());
    }
    if class & 0x200 != 0 {
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
