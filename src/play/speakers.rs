//! The built-in synth on the default audio device, through cpal: the audio callback renders the
//! shared [`Synth`] while nodi's player feeds it events in real time.

use std::sync::{Arc, Mutex};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};
use rustysynth::SoundFont;

use super::failure;
use super::synth::{Locked, Synth};
use crate::error::Result;

/// The default audio output device and its preferred stream format.
pub struct Device {
    device: cpal::Device,
    config: cpal::SupportedStreamConfig,
    name: String,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device").field("name", &self.name).field("config", &self.config).finish()
    }
}

impl Device {
    /// The default output device of the default host, if it exists and can tell its format.
    pub fn open_default() -> Result<Device> {
        // Without a sound card ALSA prints a page of diagnostics; the error we return is enough.
        super::quiet::without_stderr(Device::probe)
    }

    fn probe() -> Result<Device> {
        let host = cpal::default_host();
        let device = host
            .default_output_device()
            .ok_or_else(|| failure("audio output", "no default output device"))?;
        let name = device.name().unwrap_or_else(|_| "default".to_string());
        let config = device
            .default_output_config()
            .map_err(|e| failure(format!("audio output {name}"), e.to_string()))?;
        Ok(Device { device, config, name })
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Start a stream on this device playing a new synth on `soundfont`.
    pub fn start(self, soundfont: &Arc<SoundFont>) -> Result<Speakers> {
        let rate = self.config.sample_rate().0;
        let synth = Arc::new(Mutex::new(Synth::new(soundfont, rate)?));
        let config: cpal::StreamConfig = self.config.config();
        let stream = match self.config.sample_format() {
            SampleFormat::F32 => build::<f32>(&self.device, &config, &synth),
            SampleFormat::F64 => build::<f64>(&self.device, &config, &synth),
            SampleFormat::I16 => build::<i16>(&self.device, &config, &synth),
            SampleFormat::U16 => build::<u16>(&self.device, &config, &synth),
            SampleFormat::I32 => build::<i32>(&self.device, &config, &synth),
            SampleFormat::U32 => build::<u32>(&self.device, &config, &synth),
            SampleFormat::I8 => build::<i8>(&self.device, &config, &synth),
            SampleFormat::U8 => build::<u8>(&self.device, &config, &synth),
            other => {
                return Err(failure(
                    format!("audio output {}", self.name),
                    format!("unsupported sample format {other}"),
                ))
            }
        }
        .map_err(|e| failure(format!("audio output {}", self.name), e.to_string()))?;
        stream.play().map_err(|e| failure(format!("audio output {}", self.name), e.to_string()))?;
        Ok(Speakers { _stream: stream, synth })
    }
}

fn build<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    synth: &Arc<Mutex<Synth>>,
) -> Result<cpal::Stream, cpal::BuildStreamError>
where
    T: SizedSample + FromSample<f32>,
{
    let channels = usize::from(config.channels.max(1));
    let synth = Arc::clone(synth);
    let (mut left, mut right) = (vec![0f32; 4096], vec![0f32; 4096]);
    device.build_output_stream(
        config,
        move |data: &mut [T], _: &cpal::OutputCallbackInfo| {
            let frames = data.len() / channels;
            if left.len() < frames {
                left.resize(frames, 0.0);
                right.resize(frames, 0.0);
            }
            let (l, r) = (&mut left[..frames], &mut right[..frames]);
            match synth.lock() {
                Ok(mut s) => s.render(l, r),
                Err(p) => p.into_inner().render(l, r),
            }
            for (i, frame) in data.chunks_mut(channels).enumerate() {
                if channels == 1 {
                    frame[0] = T::from_sample(0.5 * (l[i] + r[i]));
                    continue;
                }
                for (c, s) in frame.iter_mut().enumerate() {
                    *s = T::from_sample(match c {
                        0 => l[i],
                        1 => r[i],
                        _ => 0.0,
                    });
                }
            }
        },
        |e| eprintln!("audio output: {e}"),
        None,
    )
}

/// A running output stream and the synth it plays.
pub struct Speakers {
    _stream: cpal::Stream,
    synth: Arc<Mutex<Synth>>,
}

impl Speakers {
    /// A nodi connection that sends events to the playing synth.
    pub fn connection(&self) -> Locked<Synth> {
        Locked(Arc::clone(&self.synth))
    }
}
